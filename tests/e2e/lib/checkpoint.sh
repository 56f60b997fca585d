# Helpers for the checkpoint and fault tests (tests/e2e/checkpoint.sh, faults.sh); sourced
# after tests/lib.sh. Not a suite of its own: run-all.sh runs tests/e2e/*.sh only.

# dataset NAME FILE OUT: the raw little-endian bytes of one dataset of an HDF5 file.
dataset() { h5dump -d "/$1" -b LE -o "$3" "$2" >/dev/null 2>&1; }

# same_model DIR_A DIR_B: model.h5's params (and state, if any) are byte for byte equal.
same_model() {
    dataset params "$1/model.h5" "$TMP/a.bin" && dataset params "$2/model.h5" "$TMP/b.bin" &&
        cmp -s "$TMP/a.bin" "$TMP/b.bin" || return 1
    dataset state "$1/model.h5" "$TMP/a.bin" || return 0
    dataset state "$2/model.h5" "$TMP/b.bin" && cmp -s "$TMP/a.bin" "$TMP/b.bin"
}

# ck_rows DIR: the metrics rows in DIR/checkpoint.h5.
ck_rows() {
    h5dump -H -d /metrics/rows "$1/checkpoint.h5" 2>/dev/null |
        awk '/DATASPACE/{print $5; exit}'
}

# ck_position DIR: rank 0's epoch, step and steps done in that epoch in DIR/checkpoint.h5.
ck_position() {
    h5dump -d /progress/position "$1/checkpoint.h5" 2>/dev/null |
        awk '/\(0,0\)/{gsub(",", ""); print $2, $3, $4}'
}

# The background jobs of faults.sh and resume_modes.sh run $TMP/job.cfg with $LONG and
# $RUN_ARGS (and NP ranks for resume_exactly, default 2).
# start NP DIR ARGS...: a long job.cfg run into $TMP/DIR in the background ($job: its
# timeout's pid, $mpirun: mpirun's); returns once DIR/metrics.csv exists (an epoch is done).
start() {
    np=$1 dir=$TMP/$2
    shift 2
    timeout -k 5 60 mpirun --oversubscribe -np "$np" "$@" "$GDMPI" "$TMP/job.cfg" \
        --set output.dir="$dir" $LONG $RUN_ARGS >"$TMP/bg.out" 2>&1 &
    job=$!
    for _ in $(seq 100); do
        mpirun=$(pgrep -P "$job" -x mpirun)
        [ -f "$dir/metrics.csv" ] && [ -n "$mpirun" ] && return 0
        sleep 0.1
    done
    return 1
}
# finish: waits for the background job; $status, and $secs since the call.
finish() {
    t0=$(date +%s.%N)
    wait "$job"
    status=$?
    secs=$(echo "$(date +%s.%N) - $t0" | bc)
}
# resume_exactly DIR NAME: DIR's checkpoint resumed to 2 epochs past it equals an
# uninterrupted run of as many epochs, bit for bit.
resume_exactly() {
    epoch=$(ck_position "$TMP/$1" | cut -d' ' -f1)
    [ -n "$epoch" ] || { notok "$2: no checkpoint to resume"; return; }
    mpi "${NP:-2}" "$TMP/job.cfg" --set output.dir="$TMP/$1" $RUN_ARGS \
        --set train.epochs=$((epoch + 2)) --set train.resume=auto
    check "$2: resuming from the checkpoint (epoch $epoch) completes" [ $? -eq 0 ]
    mpi "${NP:-2}" "$TMP/job.cfg" --set output.dir="$TMP/$1-ref" $RUN_ARGS \
        --set train.epochs=$((epoch + 2))
    check "$2: the resumed model.h5 is bit for bit the uninterrupted run's" \
        same_model "$TMP/$1" "$TMP/$1-ref"
}
