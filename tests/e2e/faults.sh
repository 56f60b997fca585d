# Faults: a rank killed with SIGKILL in mid-epoch ends the job within 10 s and leaves the
# last checkpoint valid (resuming from it completes, bit for bit as a run never stopped); a
# crash halfway through writing a checkpoint (GDMPI_FAULT=checkpoint-write) leaves the
# previous one valid; SIGTERM (to mpirun, or to the ranks as srun sends it), SIGINT and
# SIGUSR1 stop every rank at the same step with a checkpoint and the outputs (status 5
# when the ranks' status reaches the shell). Checkpoints themselves: checkpoint.sh.
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh

fixture train softmax rows=2400 features=8 classes=3 noise=0.5 seed=6 val_rows=200
cfg job train optimizer.type=momentum optimizer.lr=0.01 train.epochs=4 train.batch_size=16
LONG="--set train.epochs=1000000"

# ck_steps DIR: the step of every rank in DIR/checkpoint.h5, one line.
ck_steps() {
    h5dump -d /progress/position "$1/checkpoint.h5" 2>/dev/null | awk '/\([0-9]+,0\)/{gsub(",", ""); printf "%s ", $3}'
}
RUN_ARGS="--set output.checkpoint_every=5"

# --- SIGKILL: one rank dies in mid-epoch --------------------------------------------------
start 2 kill
for _ in $(seq 100); do [ -f "$TMP/kill/checkpoint.h5" ] && break; sleep 0.1; done
check "SIGKILL: the job is running and has a checkpoint" [ -f "$TMP/kill/checkpoint.h5" ]
pid=$(rank_pid "$job" 1)
[ -n "$pid" ] && kill -9 "$pid"
finish
check "SIGKILL of rank 1: the job ends within 10 s (${secs} s), non-zero ($status)" \
    sh -c "[ -n '$pid' ] && [ $status -ne 0 ] && [ \$(echo '$secs < 10' | bc) -eq 1 ]"
check "SIGKILL: mpirun says which rank died" grep -q "exited on signal 9" "$TMP/bg.out"
none_left() {
    for p in $(pgrep -x gdmpi); do
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "output.dir=$TMP/kill " && return 1
    done
    return 0
}
check "SIGKILL: no gdmpi process is left" none_left
resume_exactly kill "SIGKILL"

# --- a crash halfway through writing a checkpoint -------------------------------------------
mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/ref"
mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/crash" --set train.epochs=2 --set output.checkpoint_every=1
check "crash: 2 epochs leave a checkpoint after epoch 2" [ "$(ck_position "$TMP/crash")" = "2 150 0" ]
GDMPI_FAULT=checkpoint-write mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/crash" \
    --set output.checkpoint_every=1 --set train.resume=auto
check "GDMPI_FAULT=checkpoint-write: rank 0 dies while writing epoch 3's checkpoint" \
    sh -c "[ $? -ne 0 ] && grep -q 'killed halfway through writing checkpoint 1' '$TMP/out'"
check "crash: the half-written file is the temporary one" [ -f "$TMP/crash/checkpoint.h5.tmp" ]
check "crash: checkpoint.h5 is still the whole one of epoch 2" [ "$(ck_position "$TMP/crash")" = "2 150 0" ]
mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/crash" --set output.checkpoint_every=1 --set train.resume=auto
check "crash: resuming from it completes" [ $? -eq 0 ]
check "crash: the resumed model.h5 is bit for bit the uninterrupted run's" same_model "$TMP/crash" "$TMP/ref"

# --- SIGTERM to mpirun: it passes SIGTERM on after odls_base_sigkill_timeout ----------------
RUN_ARGS=
start 2 term --mca odls_base_sigkill_timeout 2
kill -TERM "$mpirun"
finish
check "SIGTERM to mpirun: the job ends within 10 s (${secs} s), non-zero ($status)" \
    sh -c "[ $status -ne 0 ] && [ \$(echo '$secs < 10' | bc) -eq 1 ]"
interrupted() {
    grep -q '"status": "interrupted"' "$TMP/$1/summary.json" &&
        grep -q '"stop_reason": "signal"' "$TMP/$1/summary.json" &&
        grep -q "\"message\": \"stopped by $2 at epoch" "$TMP/$1/summary.json" &&
        [ -f "$TMP/$1/model.h5" ] && [ -f "$TMP/$1/checkpoint.h5" ]
}
check "SIGTERM to mpirun: checkpoint, model.h5, and summary.json says interrupted by SIGTERM" \
    interrupted term SIGTERM
resume_exactly term "SIGTERM to mpirun"

# --- SIGTERM to one rank only: the others learn it and stop at the same step -------------------
start 3 one
kill -TERM "$(rank_pid "$job" 2)"
finish
check "SIGTERM to rank 2 of 3: every rank exits with status 5 ($status)" [ "$status" -eq 5 ]
check "SIGTERM to rank 2: the message names the signal and the checkpoint" \
    grep -q "gdmpi: error: stopped by SIGTERM at epoch [0-9]*, step [0-9]*; checkpoint written to $TMP/one/checkpoint.h5" "$TMP/bg.out"
# The checkpoint's 3 rank records and the step the message names (where the ranks stopped).
said=$(sed -n 's/.*stopped by SIGTERM at epoch [0-9]*, step \([0-9]*\);.*/\1/p' "$TMP/bg.out" | head -n 1)
same_step() {
    set -- $(ck_steps "$TMP/one")
    [ $# -eq 3 ] && [ -n "$said" ] && [ "$1" = "$said" ] && [ "$2" = "$said" ] && [ "$3" = "$said" ]
}
check "SIGTERM to rank 2: all 3 ranks checkpointed the step they stopped at, $said ($(ck_steps "$TMP/one"))" same_step
NP=3 resume_exactly one "SIGTERM to one rank"

# --- SIGINT to every rank (Ctrl-C), ps: workers and server agree ------------------------------
RUN_ARGS="--set parallel.mode=ps"
start 3 int
pids="$(rank_pid "$job" 0) $(rank_pid "$job" 1) $(rank_pid "$job" 2)"
kill -INT $pids # at once, as Ctrl-C reaches a process group
finish
check "SIGINT to every rank, ps: status 5 and 'stopped by SIGINT'" \
    sh -c "[ $status -eq 5 ] && grep -q 'stopped by SIGINT' '$TMP/bg.out'"
check "SIGINT, ps: summary.json says interrupted" interrupted int SIGINT
NP=3 resume_exactly int "SIGINT, ps"

# --- SIGUSR1 to mpirun, which forwards it at once: ps-async ----------------------------------
RUN_ARGS="--set parallel.mode=ps-async"
start 3 usr1
kill -USR1 "$mpirun"
finish
check "SIGUSR1 to mpirun, ps-async: status 5 within 10 s (${secs} s)" \
    sh -c "[ $status -eq 5 ] && [ \$(echo '$secs < 10' | bc) -eq 1 ]"
check "SIGUSR1, ps-async: the message reaches mpirun's output" grep -q 'stopped by SIGUSR1' "$TMP/bg.out"
check "SIGUSR1, ps-async: summary.json says interrupted" interrupted usr1 SIGUSR1
mpi 3 "$TMP/job.cfg" --set output.dir="$TMP/usr1" $RUN_ARGS $LONG --set train.max_seconds=1 \
    --set train.resume=auto
check "SIGUSR1, ps-async: resuming completes (a 1 s budget)" \
    sh -c "[ $? -eq 0 ] && grep -q 'resuming from' '$TMP/out' && grep -q '\"status\": \"ok\"' '$TMP/usr1/summary.json'"

# --- ps-async, one server: the server checkpoints alone every 50 updates; a worker dies ------
RUN_ARGS="--set parallel.mode=ps-async --set output.checkpoint_every=50s"
start 3 akill
for _ in $(seq 100); do [ -f "$TMP/akill/checkpoint.h5" ] && break; sleep 0.1; done
pid=$(rank_pid "$job" 2)
[ -n "$pid" ] && kill -9 "$pid"
finish
check "ps-async: SIGKILL of a worker ends the job within 10 s (${secs} s), non-zero ($status)" \
    sh -c "[ -n '$pid' ] && [ $status -ne 0 ] && [ \$(echo '$secs < 10' | bc) -eq 1 ]"
server_checkpoint() { # rank 0's record, and the workers' marked unknown (length -1)
    h5dump -a /progress/position/lengths "$TMP/akill/checkpoint.h5" 2>/dev/null |
        grep -q '(0): 3, -1, -1'
}
check "ps-async: the server's own checkpoint is there" server_checkpoint
rows=$(ck_rows "$TMP/akill")
mpi 3 "$TMP/job.cfg" --set output.dir="$TMP/akill" $RUN_ARGS $LONG --set train.max_seconds=1 \
    --set train.resume=auto
check "ps-async: resuming from it completes" sh -c "[ $? -eq 0 ] && grep -q 'resuming from' '$TMP/out'"
check "ps-async: metrics.csv goes on after the checkpoint's ${rows:-?} rows" \
    sh -c "[ -n '$rows' ] && [ \"\$(sed -n '$((rows + 2))p' '$TMP/akill/metrics.csv' | cut -d, -f1)\" = $((rows + 1)) ]"
