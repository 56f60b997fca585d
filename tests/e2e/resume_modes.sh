# Checkpoint and resume in the modes whose ranks train copies of their own, or never meet
# (docs/checkpoints.md, "What each mode restores").
#   local-sgd and easgd: after a SIGKILL, the resumed run is bit for bit the run that was
#   never stopped (model.h5 and metrics.csv), in mid-epoch: every rank's copy, optimizer
#   state, step count, and the average or center are in the checkpoint.
#   hogwild, easgd-async, ps-async with two servers: rank 0 writes the checkpoint alone at
#   each row while the others run on. After a SIGKILL of a worker, the job ends, and the
#   checkpoint describes rank 0 and marks the others unknown; resumed with nothing left to
#   do it writes exactly the parameters it holds (what is restored: the whole vector, every
#   server's slice); resumed for two more epochs it goes on from its rows, its versions (ps)
#   and its update count (hogwild).
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh

fixture train softmax rows=2400 features=8 classes=3 noise=0.5 seed=6 val_rows=200
cfg job train optimizer.type=momentum optimizer.lr=0.01 train.epochs=3 train.batch_size=16
LONG="--set train.epochs=1000000"

same_metrics() {
    cut -d, -f1,2,4-8 "$1/metrics.csv" >"$TMP/a.csv" && cut -d, -f1,2,4-8 "$2/metrics.csv" >"$TMP/b.csv" &&
        cmp -s "$TMP/a.csv" "$TMP/b.csv"
}

# --- synchronous copies: exact ----------------------------------------------------------
# 75 steps an epoch at np = 2; checkpoints every 25 steps; rank 0 dies by SIGKILL while it
# writes the 4th (step 100, in epoch 2), so the resume starts from step 75's... the 3rd.
for mode in local-sgd easgd; do
    args="--set parallel.mode=$mode --set parallel.average_every=4 --set parallel.tau=3"
    [ $mode = easgd ] && args="--set parallel.mode=$mode --set parallel.tau=3"
    # shellcheck disable=SC2086 # the arguments are words
    mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/$mode" $args
    check "$mode: the uninterrupted run exits 0" [ $? -eq 0 ]
    # shellcheck disable=SC2086
    GDMPI_FAULT=checkpoint-write:4 mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/$mode-cut" $args \
        --set output.checkpoint_every=20s
    check "$mode: rank 0 killed (SIGKILL) while writing the 4th checkpoint ends the job" [ $? -ne 0 ]
    check "$mode: the 3rd checkpoint (epoch 1, step 60, mid-epoch) is there" \
        [ "$(ck_position "$TMP/$mode-cut")" = "1 60 60" ]
    # shellcheck disable=SC2086
    mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/$mode-cut" $args --set output.checkpoint_every=20s \
        --set train.resume=auto
    check "$mode: the resumed run exits 0" [ $? -eq 0 ]
    check "$mode: model.h5 bit for bit the uninterrupted run's" same_model "$TMP/$mode" "$TMP/$mode-cut"
    check "$mode: metrics.csv has the same rows" same_metrics "$TMP/$mode" "$TMP/$mode-cut"
done

# A worker killed from outside in mid-epoch (easgd): the job ends, and the last checkpoint
# resumes bit for bit.
RUN_ARGS="--set parallel.mode=easgd --set parallel.tau=3 --set output.checkpoint_every=7s"
start 2 ekill
for _ in $(seq 100); do [ -f "$TMP/ekill/checkpoint.h5" ] && break; sleep 0.1; done
pid=$(rank_pid "$job" 1)
[ -n "$pid" ] && kill -9 "$pid"
finish
check "easgd: SIGKILL of rank 1 ends the job within 10 s (${secs} s), non-zero" \
    sh -c "[ -n '$pid' ] && [ $status -ne 0 ] && [ \$(echo '$secs < 10' | bc) -eq 1 ]"
resume_exactly ekill "easgd, SIGKILL"

# --- asynchronous: rank 0's view --------------------------------------------------------
# lengths DIR: the lengths attribute of progress/position (-1: a rank the file does not know).
lengths() { h5dump -a /progress/position/lengths "$TMP/$1/checkpoint.h5" 2>/dev/null | awk -F': ' '/\(0\)/{print $2}'; }
# h5values DIR DATASET: a dataset's values, one line.
h5values() { h5dump -d "$2" "$TMP/$1/checkpoint.h5" 2>/dev/null | awk -F': ' '/\([0-9,]*\):/{printf "%s ", $2}' | tr -d ','; }
# params_restored DIR: model.h5's params are the checkpoint's model/params, byte for byte.
params_restored() {
    dataset model/params "$TMP/$1/checkpoint.h5" "$TMP/ck.bin" &&
        dataset params "$TMP/$1/model.h5" "$TMP/m.bin" && cmp -s "$TMP/ck.bin" "$TMP/m.bin"
}

async_case() { # NAME NP ARGS...
    ac=$1 acnp=$2
    shift 2
    RUN_ARGS="$* --set output.checkpoint_every=1"
    start "$acnp" "$ac"
    for _ in $(seq 100); do [ -f "$TMP/$ac/checkpoint.h5" ] && break; sleep 0.1; done
    sleep 0.5
    pid=$(rank_pid "$job" $((acnp - 1)))
    [ -n "$pid" ] && kill -9 "$pid"
    finish
    check "$ac: SIGKILL of the last worker ends the job within 10 s (${secs} s), non-zero" \
        sh -c "[ -n '$pid' ] && [ $status -ne 0 ] && [ \$(echo '$secs < 10' | bc) -eq 1 ]"
    unknown=$(printf '3%*s' $((acnp - 1)) '' | sed 's/ /, -1/g')
    check "$ac: rank 0's checkpoint describes rank 0, the others unknown ($(lengths "$ac"))" \
        [ "$(lengths "$ac")" = "$unknown" ]
    rows=$(ck_rows "$TMP/$ac")
    cp -r "$TMP/$ac" "$TMP/$ac-noop"
    # shellcheck disable=SC2086 # the arguments are words
    mpi "$acnp" "$TMP/job.cfg" --set output.dir="$TMP/$ac-noop" "$@" --set train.epochs="$rows" \
        --set train.resume=auto
    check "$ac: resumed with nothing to do ($rows epochs), it exits 0" [ $? -eq 0 ]
    check "$ac: ... and model.h5 holds exactly the parameters restored" params_restored "$ac-noop"
    # shellcheck disable=SC2086
    mpi "$acnp" "$TMP/job.cfg" --set output.dir="$TMP/$ac" "$@" --set train.epochs=$((rows + 2)) \
        --set train.resume=auto
    check "$ac: resumed for 2 more epochs, it exits 0 with $((rows + 2)) rows" \
        sh -c "[ $? -eq 0 ] && [ \$(tail -n +2 '$TMP/$ac/metrics.csv' | wc -l) -eq $((rows + 2)) ]"
    check "$ac: ... the row after the checkpoint's is epoch $((rows + 1))" \
        [ "$(sed -n "$((rows + 2))p" "$TMP/$ac/metrics.csv" | cut -d, -f1)" = $((rows + 1)) ]
}

async_case hogwild 3 --set parallel.mode=hogwild
totals=$(h5values hogwild-noop /hogwild/totals)
updates=$(echo "$totals" | awk '{print $3}')
check "hogwild: the checkpoint holds the group's update count (${updates:-?})" gt "${updates:-0}" 0
check "hogwild: the resumed rows count on from it" gt "$(csv_last step "$TMP/hogwild/metrics.csv")" "${updates:-0}"

async_case ps-async 4 --set parallel.mode=ps-async --set parallel.servers=2
versions=$(h5values ps-async-noop /ps/versions)
check "ps-async, 2 servers: both servers' versions are in rank 0's checkpoint ($versions)" \
    sh -c "echo '$versions' | awk '{exit !(\$1 > 0 && \$2 > 0)}'"
check "ps-async: the resumed servers count on from them" \
    gt "$(csv_last step "$TMP/ps-async/metrics.csv")" "$(echo "$versions" | awk '{print $1}')"

async_case easgd-async 4 --set parallel.mode=easgd-async --set parallel.servers=2 --set parallel.tau=2

async_case downpour 3 --set parallel.mode=downpour --set parallel.push_every=2
