# The console of a training run: rank 0's banner (version, ranks and roles, mode, model and
# its parameter count, rows per worker min..max, steps per epoch, output dir, how the run
# starts); lines that reach a log file as they are written, not at the end; on a terminal
# (script(1)) a progress line that redraws with '\r', and into a file, even under mpirun
# (which gives its ranks a pseudo-terminal), plain lines only.
. tests/lib.sh

fixture uneven softmax rows=1001 features=6 classes=3 seed=3
cfg job uneven train.epochs=2 train.batch_size=50 output.checkpoint_every=1

# --- the banner ----------------------------------------------------------------------------
mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/b"
check "a 2-rank run exits 0" [ $? -eq 0 ]
version=$("$GDMPI" --version | sed -n '1s/^gdmpi \([^ ]*\).*/\1/p') # the number, without the commit
check "banner: the version, the ranks and roles, the mode" \
    grep -qx "gdmpi $version: 2 ranks, 2 workers, parallel.mode = allreduce" "$TMP/out"
params=$(sed -n 's/.*"parameters": \([0-9]*\).*/\1/p' "$TMP/b/summary.json")
check "banner: the model and summary.json's parameter count ($params)" \
    grep -qx "  model   softmax, $params parameters (6 features, 3 outputs), optimizer sgd" "$TMP/out"
check "banner: rows per worker 500..501 (1001 rows on 2), 11 steps per epoch, 2 epochs" \
    grep -qx "  data    500..501 rows per worker, 11 steps per epoch, 2 epochs" "$TMP/out"
check "banner: the output dir" grep -qx "  output  $TMP/b" "$TMP/out"
check "banner: a fresh run" grep -qx "  start   a fresh run (train.resume = never)" "$TMP/out"
check "the banner comes before the first epoch line" \
    sh -c "[ \"\$(grep -n '^  start' '$TMP/out' | cut -d: -f1)\" -lt \"\$(grep -n '^epoch' '$TMP/out' | head -n 1 | cut -d: -f1)\" ]"
mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/b" --set train.epochs=3 --set train.resume=auto
check "banner of a resumed run: where it resumes" \
    grep -qx "  start   resuming from $TMP/b/checkpoint.h5: after epoch 2, step 22" "$TMP/out"
mpi 3 "$TMP/job.cfg" --set output.dir="$TMP/ps" --set parallel.mode=ps
check "banner with a parameter server: its rank and the workers" \
    grep -qx "gdmpi $version: 3 ranks, 1 server (rank 0), 2 workers, parallel.mode = ps" "$TMP/out"

# --- slow runs, so that there is something to watch --------------------------------------
# under mpirun: 3 ms more per collective, 251 steps an epoch
SLOW="--set parallel.delay_us=3000 --set train.batch_size=2 --set train.epochs=3"

# Into a file, without mpirun: the banner is there while the first epoch still runs (with
# stdout fully buffered it came only with the epoch line, or at the end). Alone, a rank
# has no collective to delay: its compute is made 3000 times slower (about 1 s an epoch).
timeout 60 "$GDMPI" "$TMP/job.cfg" --set output.dir="$TMP/file" --set parallel.slow_ranks=0 \
    --set parallel.slow_factor=3000 >"$TMP/file.out" 2>&1 &
pid=$!
wait_for "$TMP/file.out" '^  start' 1 20 "$pid"
in_first_epoch() { kill -0 "$pid" 2>/dev/null && [ "$(count "$TMP/file.out" '^epoch')" -eq 0 ]; }
check "into a file: the banner arrives while the run is still in its first epoch" in_first_epoch
wait "$pid"
check "... the run exits 0" [ $? -eq 0 ]
no_cr() { ! grep -q "$(printf '\r')" "$1" && ! grep -q 'ETA' "$1"; }
check "into a file: plain lines, no carriage return and no progress line" no_cr "$TMP/file.out"
timeout -k 5 60 mpirun --oversubscribe -np 2 "$GDMPI" "$TMP/job.cfg" --set output.dir="$TMP/mpifile" \
    $SLOW >"$TMP/mpifile.out" 2>&1
check "into a file under mpirun (ranks get a pseudo-terminal): plain lines only" no_cr "$TMP/mpifile.out"
check "... with every epoch line" [ "$(count "$TMP/mpifile.out" '^epoch')" -eq 3 ]

# On a terminal: the line redraws within the epoch, and is wiped before the epoch line.
if command -v script >/dev/null 2>&1; then
    script -qec "timeout -k 5 60 mpirun --oversubscribe -np 2 '$GDMPI' '$TMP/job.cfg' \
        --set output.dir='$TMP/tty' $SLOW" /dev/null >"$TMP/tty.out" 2>&1
    # the drawings: each starts with '\r' and has the documented figures
    tr '\r' '\n' <"$TMP/tty.out" |
        grep -E '^epoch [0-9]+/3  step [0-9]+/[0-9]+  elapsed [0-9]+s  [0-9]+ samples/s  ETA ([0-9]+s|[0-9]+m[0-9]{2}s|\?) *$' >"$TMP/draws"
    check "on a terminal: the progress line is drawn several times (at most a few a second)" \
        sh -c "n=\$(wc -l <'$TMP/draws'); [ \$n -ge 3 ] && [ \$n -le 200 ]"
    check "... it reaches the first epoch's later steps" grep -q '^epoch 1/3  step [1-9][0-9]*/' "$TMP/draws"
    check "... and the epoch lines are still whole lines" [ "$(count "$TMP/tty.out" "epoch   [123]  step")" -eq 3 ]
    # data gen too (gdmpi/meter.h): a second's work (a wide softmax: 200 scores per row)
    # shows "data gen: PATH: row N/TOTAL (P%)", then the whole line of what it wrote.
    script -qec "'$GDMPI' data gen --task softmax --rows 40000 --features 100 --classes 200 \
        -o '$TMP/wide.h5'" /dev/null >"$TMP/gen.out" 2>&1
    check "on a terminal, data gen draws its progress (row N/40000)" \
        sh -c "tr '\\r' '\\n' <'$TMP/gen.out' | grep -Eq '^data gen: $TMP/wide.h5: row [0-9]+/40000 \([0-9]+%\) *$'"
    check "... and ends with the whole line of what it wrote" \
        sh -c "tr '\\r' '\\n' <'$TMP/gen.out' | grep -q '^wrote 40000 rows x 100 features to $TMP/wide.h5'"
else
    skip "progress line on a terminal" "no script(1) (bsdutils); test_progress pins its text"
fi
