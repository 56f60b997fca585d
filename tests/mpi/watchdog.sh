# The stall watchdog end to end (parallel.stall_timeout): one rank of a 3-rank job is
# frozen (SIGSTOP) in mid-run; the other two wait for it in a collective and must end
# the job within a bounded time, each naming itself, while the frozen rank names nothing.
# Then: every blocking MPI call that nothing brackets is watched (mpi_watchdog), and the
# asynchronous modes' long waits for a straggler at the end are not taken for stalls.
# Skips until the watchdog is wired into training (gd_watchdog_start called in src/).
. tests/lib.sh

wired() { grep -rqs 'gd_watchdog_start' src --include='*.c' --exclude=watchdog.c; }
printf '[data]\ntrain = x.h5\n' >"$TMP/probe.cfg"
if ! "$GDMPI" config "$TMP/probe.cfg" --set parallel.stall_timeout=2 >/dev/null 2>&1; then
    skip "stall watchdog" "this gdmpi has no parallel.stall_timeout"
    exit 0
fi
if ! wired; then
    skip "stall watchdog" "not wired into training yet (no gd_watchdog_start in src/)"
    exit 0
fi

fixture d softmax rows=3000 features=8 classes=3 seed=3
cfg long d train.epochs=100000 train.batch_size=16 parallel.stall_timeout=2

: >"$TMP/out"
timeout -k 5 60 mpirun --oversubscribe -np 3 "$GDMPI" "$TMP/long.cfg" \
    --set output.dir="$TMP/long" >"$TMP/out" 2>&1 &
job=$!
wait_for "$TMP/out" '^epoch' 2 30 "$job"
frozen=$(rank_pid "$job" 1)
if [ -z "$frozen" ]; then
    notok "stall watchdog: found rank 1's process to freeze"
    kill "$job" 2>/dev/null
    wait "$job"
    exit 1
fi
kill -STOP "$frozen"
wait "$job"
status=$?
# mpirun kills the frozen rank when it ends the job (give it 10 s to be gone); if not,
# this test ends it.
alive() { kill -0 "$frozen" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$frozen/stat" 2>/dev/null; }
i=0
while alive && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if alive; then
    kill -CONT "$frozen" 2>/dev/null
    kill -9 "$frozen" 2>/dev/null
    notok "stall watchdog: the frozen rank is gone with the job"
fi
ended() { [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$status" -ne 137 ]; }
check "stall watchdog: the job ends by itself within 60 s, non-zero (status $status)" ended
line() { grep -Eq "^gdmpi: error: rank $1: no progress for [0-9]+ s in .* at step [0-9]+; waiting for .*\(stall_timeout\)$" "$TMP/out"; }
# Both waiting ranks normally report (the first to fire waits a moment before it exits);
# one is enough here, as which fires first is a matter of timing.
waiting_reports() { line 0 || line 2; }
check "stall watchdog: a waiting rank reports it (gdmpi: error: rank R: no progress ...)" waiting_reports
not_frozen() { ! line 1; }
check "stall watchdog: the frozen rank 1 reports nothing (it is the one waited for)" not_frozen
grep 'no progress' "$TMP/out" | sed 's/^/# /'
waiting_reports || tail -n 10 "$TMP/out" | sed 's/^/# /'

# Every blocking MPI call that no enter brackets is watched through the profiling layer
# (rank 1 joins 2 s late; rank 0's timeout is 0.2 s), and left alone when calls are
# unwatched, as while an asynchronous rank trains.
for call in MPI_Barrier MPI_Allreduce MPI_Reduce MPI_Bcast MPI_Gather MPI_Gatherv \
    MPI_Allgather MPI_Send MPI_Recv MPI_Wait MPI_Waitall; do
    timeout -k 5 60 mpirun --oversubscribe -np 2 "$BUILD/tests/mpi_watchdog" "$call" >"$TMP/call" 2>&1
    status=$?
    case $call in MPI_Send | MPI_Recv) whom='rank 1' ;; *) whom='the other ranks' ;; esac
    reported() {
        [ "$status" -ne 0 ] && [ "$status" -ne 124 ] &&
            grep -Eq "^gdmpi: error: rank 0: no progress for [0-9]+ s in $call at step 0; waiting for $whom \(stall_timeout\)$" "$TMP/call"
    }
    check "stall watchdog: an unbracketed $call is watched and named (status $status)" reported
    reported || tail -n 5 "$TMP/call" | sed 's/^/# /'
done
mpitest 2 "$BUILD/tests/mpi_watchdog" MPI_Barrier off

# An asynchronous worker that has done its epochs waits for a straggler (slow_factor 100)
# in the run's last collectives for seconds: no stall, even at stall_timeout = 1.
fixture w softmax rows=3000 features=8 classes=3 seed=3
cfg job w model.type=mlp model.hidden=256 train.epochs=5 train.batch_size=16 parallel.stall_timeout=1 \
    parallel.slow_ranks=2 parallel.slow_factor=100
for mode in ps-async easgd-async hogwild; do
    run "wait-$mode" 3 --set parallel.mode=$mode
    status=$?
    check "stall watchdog: $mode with a straggler at stall_timeout = 1 ends well (status $status)" \
        [ "$status" -eq 0 ]
    grep 'no progress' "$TMP/out" | sed 's/^/# /'
done
