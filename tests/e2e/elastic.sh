# Elastic resume (docs/checkpoints.md, "Resuming on another rank count"): a checkpoint
# written at np = P resumes at np = Q. Rank 0 dies by SIGKILL while it writes a mid-epoch
# checkpoint (GDMPI_FAULT), so the job ends as after a node loss, with the previous
# checkpoint whole; GDMPI_ROW_LOG=DIR makes every worker log "epoch step row" for each row
# it trains on, which shows that no row of the interrupted epoch is lost or repeated.
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh

fixture train softmax rows=2400 features=8 classes=3 noise=0.5 seed=6 val_rows=200
cfg job train optimizer.type=momentum optimizer.lr=0.01 train.epochs=3 train.batch_size=16

# killed NP DIR ARGS...: a run into $TMP/DIR, rows logged to $TMP/DIR.rows1, killed while it
# writes its 3rd checkpoint (every 10 steps: the 2nd, of step 20, is the one left).
killed() {
    np=$1 dir=$2
    shift 2
    mkdir -p "$TMP/$dir.rows1"
    GDMPI_ROW_LOG="$TMP/$dir.rows1" GDMPI_FAULT=checkpoint-write:3 \
        mpi "$np" "$TMP/job.cfg" --set output.dir="$TMP/$dir" --set output.checkpoint_every=10s "$@"
}
# resume NP DIR ARGS...: the checkpoint in $TMP/DIR resumed at NP ranks, rows to DIR.rows2.
resume() {
    np=$1 dir=$2
    shift 2
    mkdir -p "$TMP/$dir.rows2"
    GDMPI_ROW_LOG="$TMP/$dir.rows2" mpi "$np" "$TMP/job.cfg" --set output.dir="$TMP/$dir" \
        --set train.resume=auto "$@"
}
# once_per_epoch DIR EPOCH STEP: the rows DIR's first run logged in EPOCH before global
# step STEP (the checkpoint's), with every row the resumed runs logged in EPOCH, are the
# 2400 rows, each exactly once.
once_per_epoch() {
    { awk -v e="$2" -v s="$3" '$1 == e && $2 < s {print $3}' "$TMP/$1".rows1/rows.*
      cat "$TMP/$1".rows[2-9]/rows.* | awk -v e="$2" '$1 == e {print $3}'; } |
        sort -n | uniq -c | awk '$1 != 1 {bad++} END {exit bad || NR != 2400}'
}
# whole_epoch DIR EPOCH: the resumed run's EPOCH used every row once.
whole_epoch() {
    awk -v e="$2" '$1 == e {print $3}' "$TMP/$1".rows2/rows.* | sort -n | uniq -c |
        awk '$1 != 1 {bad++} END {exit bad || NR != 2400}'
}
# same_params CHECKPOINT DIR: DIR/model.h5's parameters are the checkpoint's, byte for byte.
same_params() {
    dataset model/params "$1" "$TMP/a.bin" && dataset params "$2/model.h5" "$TMP/b.bin" &&
        cmp -s "$TMP/a.bin" "$TMP/b.bin"
}
val_loss() { csv_last val_loss "$TMP/$1/metrics.csv"; }
# between X A B: validation loss X within the band of the uninterrupted runs A and B (at
# the two rank counts: more ranks, fewer steps an epoch), widened by 10%.
between() {
    [ "$(echo "lo = $2; hi = $3; if ($3 < lo) { lo = $3; hi = $2 }; $1 >= 0.9 * lo && $1 <= 1.1 * hi" | bc -l)" -eq 1 ]
}

# --- allreduce 4 -> 2 --------------------------------------------------------------------
run whole4 4
run whole2 2
killed 4 a42
check "allreduce at 4 ranks: rank 0 killed while writing the 3rd checkpoint" [ $? -ne 0 ]
check "... the 2nd (epoch 1, step 20 of 38) is whole" [ "$(ck_position "$TMP/a42")" = "1 20 20" ]
cp "$TMP/a42/checkpoint.h5" "$TMP/a42.h5"
mkdir -p "$TMP/a42-at"
mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/a42-at" --set train.resume="$TMP/a42.h5" --set train.max_steps=1
check "resumed at 2 ranks and stopped at once: exits 0" [ $? -eq 0 ]
check "... the parameters at the resume point are the checkpoint's" same_params "$TMP/a42.h5" "$TMP/a42-at"
check "... the banner says whence: 4 ranks, 1120 rows over the last 35 steps" \
    grep -q "written by 4 ranks): epoch 1, step 40, its unused rows dealt out to the last 35 of its 75 steps" "$TMP/out"
resume 2 a42
check "allreduce 4 -> 2: the resumed run exits 0" [ $? -eq 0 ]
check "... no row of the interrupted epoch is lost or repeated" once_per_epoch a42 1 20
check "... every later epoch uses every row once" whole_epoch a42 2
check "... it learns to the uninterrupted runs' band (val_loss $(val_loss a42); at 4 and 2 ranks $(val_loss whole4), $(val_loss whole2))" \
    between "$(val_loss a42)" "$(val_loss whole4)" "$(val_loss whole2)"
check "... summary.json records the resume: 4 -> 2 ranks, elastic" holds a42 \
    's["checkpoint"]["resumes"] == [{"from_ranks": 4, "to_ranks": 2, "epoch": 1, "step": 40, "elastic": True}]'

# --- allreduce 2 -> 3 (oversubscribed), then a checkpoint in the remainder epoch -> 4 --------
killed 2 a23
ck=$(ck_position "$TMP/a23" | cut -d' ' -f2)
resume 3 a23 --set output.checkpoint_every=10s --set train.epochs=1 --set train.max_steps=40
check "allreduce 2 -> 3, stopped by max_steps in the remainder epoch: exits 0" [ $? -eq 0 ]
check "... its checkpoint is marked as a remainder epoch's" \
    sh -c "h5dump -a remainder '$TMP/a23/checkpoint.h5' | grep -q '(0): 1'"
mv "$TMP/a23.rows2" "$TMP/a23.rows3"
resume 4 a23
check "... resumed again at 4 ranks: exits 0" [ $? -eq 0 ]
check "... across both resumes no row of epoch 1 is lost or repeated" once_per_epoch a23 1 "$ck"
check "... epoch 2 uses every row once" whole_epoch a23 2

# --- local-sgd 2 -> 3: the copies averaged, rows dealt out -----------------------------
killed 2 l23 --set parallel.mode=local-sgd --set parallel.average_every=4
resume 3 l23 --set parallel.mode=local-sgd --set parallel.average_every=4
check "local-sgd 2 -> 3: exits 0" [ $? -eq 0 ]
check "... no row of the interrupted epoch lost or repeated" \
    once_per_epoch l23 1 "$(ck_position "$TMP/l23" | cut -d' ' -f2)"

# --- ps: 2 servers and 1 worker -> 1 server and 3 workers, with adam (its moments are
#     stored whole and each server reads its new slice, as the parameters; checked here:
#     the parameters and the rows) --------------------------------------------------------
killed 3 ps --set parallel.mode=ps --set parallel.servers=2 --set optimizer.type=adam
cp "$TMP/ps/checkpoint.h5" "$TMP/ps.h5"
mpi 4 "$TMP/job.cfg" --set output.dir="$TMP/ps-at" --set train.resume="$TMP/ps.h5" --set train.max_steps=1 \
    --set parallel.mode=ps --set parallel.servers=1 --set optimizer.type=adam
check "ps, 2 servers -> 1: the parameters at the resume point are the checkpoint's" same_params "$TMP/ps.h5" "$TMP/ps-at"
resume 4 ps --set parallel.mode=ps --set parallel.servers=1 --set optimizer.type=adam
check "... the resumed run's interrupted epoch uses every row once" \
    once_per_epoch ps 1 "$(h5dump -d /progress/position "$TMP/ps.h5" | awk '/\(0,0\)/{gsub(",", ""); print $3}')"

# --- ps-async 3 -> 5 ranks, 1 server -> 2: the servers' state re-sliced, the workers start
#     the next epoch ----------------------------------------------------------------------
mpi 3 "$TMP/job.cfg" --set output.dir="$TMP/pa" --set parallel.mode=ps-async --set train.epochs=2 \
    --set output.checkpoint_every=1
cp "$TMP/pa/checkpoint.h5" "$TMP/pa.h5"
mpi 5 "$TMP/job.cfg" --set output.dir="$TMP/pa-at" --set parallel.mode=ps-async --set parallel.servers=2 \
    --set train.resume="$TMP/pa.h5" --set train.epochs=2
check "ps-async, 1 server -> 2: the parameters at the resume point are the checkpoint's" \
    same_params "$TMP/pa.h5" "$TMP/pa-at"
mpi 5 "$TMP/job.cfg" --set output.dir="$TMP/pa" --set parallel.mode=ps-async --set parallel.servers=2 \
    --set train.resume=auto
check "... resumed for a 3rd epoch: exits 0 and trains it" \
    sh -c "[ $? -eq 0 ] && grep -q '^epoch   3' '$TMP/out'"

# --- refusals: status 2, naming why ------------------------------------------------------
# a damaged position is caught on an elastic resume too (it loads rank 0's row)
cp "$TMP/a42.h5" "$TMP/bad.h5"
$PY -c 'import sys, h5py
with h5py.File(sys.argv[1], "a") as f: f["progress/position"][0, 0] = -5' "$TMP/bad.h5"
expect bad 1 "position (epoch -5, step 20, 20 steps into the epoch) is impossible: the file is damaged" 2 \
    --set train.resume="$TMP/bad.h5"
killed 2 hw --set parallel.mode=hogwild
expect hw 2 "it was written by 2 ranks, this run has 3: parallel.mode = hogwild cannot change the rank count" 3 \
    --set parallel.mode=hogwild --set train.resume=auto
mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/skew" --set parallel.mode=local-sgd \
    --set data.partition=label-skew --set train.epochs=1 --set output.checkpoint_every=1
expect skew 2 "this run has 3: data.partition = label-skew draws each worker's classes for that worker count" 3 \
    --set parallel.mode=local-sgd --set data.partition=label-skew --set train.resume=auto
# the rows the epoch's bits number must be the same training set's: 10 rows more (the same
# 64-bit words of bits) is refused, not resumed with the wrong rows
fixture more softmax rows=2410 features=8 classes=3 noise=0.5 seed=6
expect more 2 "it was written for a training set of 2400 rows, data.train has 2410" 3 \
    --set train.resume="$TMP/a42.h5" --set data.train="$TMP/more.h5"
