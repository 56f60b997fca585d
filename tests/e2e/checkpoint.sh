# Checkpoints and resume: a run stopped at a checkpoint and resumed ends with bit for bit
# the same model.h5 (the `params` dataset's bytes) and metrics as the run that was never
# stopped, at an epoch's end and in mid-epoch, in allreduce and ps; ps-async resumes the
# servers' state; a checkpoint that does not match the run is an error naming the
# difference. Faults (SIGKILL, a crash while writing, SIGTERM): tests/e2e/faults.sh.
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh

fixture train softmax rows=1200 features=8 classes=3 noise=0.5 seed=5 val_rows=200
fixture wide softmax rows=1200 features=9 classes=3 seed=5
cfg job train optimizer.type=adam optimizer.lr=0.01 train.epochs=4 train.batch_size=32
# An mlp with every kind of state: batch norm (per-rank running statistics), dropout (a
# per-rank stream), momentum, gradient noise (the shared stream), clipping, a cosine
# schedule and early stopping's best copy.
MLP="--set model.type=mlp --set model.hidden=12,6 --set model.batchnorm=true --set model.dropout=0.2
     --set optimizer.type=nesterov --set optimizer.lr=0.05 --set schedule.type=cosine
     --set train.grad_noise=0.01 --set train.clip_norm=1 --set train.patience=3"

# same_metrics DIR_A DIR_B: every row equal but for the timing columns.
same_metrics() {
    cut -d, -f1,2,4-8 "$1/metrics.csv" >"$TMP/a.csv" && cut -d, -f1,2,4-8 "$2/metrics.csv" >"$TMP/b.csv" &&
        cmp -s "$TMP/a.csv" "$TMP/b.csv"
}
# train NP DIR ARGS...: a run of job.cfg into DIR; status in $?.
train() {
    np=$1 dir=$2
    shift 2
    mpi "$np" "$TMP/job.cfg" --set output.dir="$TMP/$dir" "$@"
}

# --- allreduce, at an epoch's end: 2 epochs, then resume to 4 ---------------------------
train 2 full
check "allreduce: the uninterrupted run exits 0" [ $? -eq 0 ]
train 2 ep --set train.epochs=2 --set output.checkpoint_every=1
check "allreduce: 2 epochs with checkpoint_every = 1 exit 0" [ $? -eq 0 ]
check "the checkpoint is after epoch 2, step 38" [ "$(ck_position "$TMP/ep")" = "2 38 0" ]
train 2 ep --set output.checkpoint_every=1 --set train.resume=auto
check "resume = auto goes on from it and exits 0" [ $? -eq 0 ]
check "... and says so" grep -q "resuming from $TMP/ep/checkpoint.h5: after epoch 2, step 38" "$TMP/out"
check "allreduce, epoch 2 -> 4: model.h5 is bit for bit the uninterrupted one" same_model "$TMP/full" "$TMP/ep"
check "allreduce, epoch 2 -> 4: metrics.csv has the same rows" same_metrics "$TMP/full" "$TMP/ep"
check "summary.json: 2 checkpoints written, the last at step 76, and where it resumed from" \
    grep -q "\"checkpoint\": {\"every\": \"1\", \"written\": 2, \"last_step\": 76, .*\"resumed_from\": \"$TMP/ep/checkpoint.h5\"" \
    "$TMP/ep/summary.json"

# --- allreduce, in mid-epoch: max_steps cuts epoch 3 at step 50 (a checkpoint there) ------
train 2 mid --set train.max_steps=50 --set output.checkpoint_every=20s
check "max_steps = 50 with checkpoint_every = 20s exits 0" [ $? -eq 0 ]
check "its last checkpoint is at step 50, 12 steps into epoch 3" [ "$(ck_position "$TMP/mid")" = "3 50 12" ]
train 2 mid --set output.checkpoint_every=20s --set train.resume="$TMP/mid/checkpoint.h5"
check "resume = PATH in mid-epoch exits 0" [ $? -eq 0 ]
check "allreduce, mid-epoch: model.h5 is bit for bit the uninterrupted one" same_model "$TMP/full" "$TMP/mid"
check "allreduce, mid-epoch: metrics.csv has the same rows (epoch 3 whole)" same_metrics "$TMP/full" "$TMP/mid"

# --- every kind of state, allreduce at np=2 and ps at np=3, in mid-epoch ---------------
# max_steps would change cosine's horizon, so the cut is a crash while writing the 3rd
# checkpoint (tests/e2e/faults.sh checks the crash itself); the 2nd stays.
for mode in allreduce ps; do
    np=2
    [ $mode = ps ] && np=3
    train $np "mlp-$mode" $MLP --set parallel.mode=$mode
    check "$mode mlp: the uninterrupted run exits 0" [ $? -eq 0 ]
    GDMPI_FAULT=checkpoint-write:3 train $np "mlp-$mode-cut" $MLP --set parallel.mode=$mode \
        --set output.checkpoint_every=9s
    check "$mode mlp: the crash at the 3rd checkpoint ends the job" [ $? -ne 0 ]
    check "$mode mlp: the 2nd checkpoint (epoch 1, step 18) is there" \
        [ "$(ck_position "$TMP/mlp-$mode-cut")" = "1 18 18" ]
    train $np "mlp-$mode-cut" $MLP --set parallel.mode=$mode --set output.checkpoint_every=9s \
        --set train.resume=auto
    check "$mode mlp: the resumed run exits 0" [ $? -eq 0 ]
    check "$mode mlp, mid-epoch: model.h5 (params and batch-norm state) bit for bit the same" \
        same_model "$TMP/mlp-$mode" "$TMP/mlp-$mode-cut"
    check "$mode mlp, mid-epoch: metrics.csv has the same rows" same_metrics "$TMP/mlp-$mode" "$TMP/mlp-$mode-cut"
done

# --- a finished run resumed with the same epochs does nothing; with more it goes on ------
cp -r "$TMP/ep" "$TMP/again"
train 2 again --set output.checkpoint_every=1 --set train.resume=auto
check "resuming a finished run exits 0" [ $? -eq 0 ]
nothing_trained() { ! grep -q '^epoch' "$TMP/out" && same_model "$TMP/ep" "$TMP/again"; }
check "... trains no epoch and writes the same model.h5" nothing_trained
train 2 again --set output.checkpoint_every=1 --set train.resume=auto --set train.epochs=5
check "resume with train.epochs raised to 5 trains epoch 5 only" \
    sh -c "[ \$(grep -c '^epoch' '$TMP/out') -eq 1 ] && grep -q '^epoch   5' '$TMP/out'"

# --- resume = auto without a checkpoint starts afresh -------------------------------------
train 2 fresh --set train.resume=auto --set train.epochs=1
check "resume = auto with no checkpoint starts afresh" sh -c "[ $? -eq 0 ] && ! grep -q resuming '$TMP/out'"

# --- a checkpoint that does not match: status 2 and a message that names the difference --
# expect_mismatch NAME PATTERN NP ARGS...: resuming the allreduce checkpoint in ep fails.
expect_mismatch() {
    name=$1 pattern=$2 np=$3
    shift 3
    cp -r "$TMP/ep" "$TMP/mm"
    mpi "$np" "$TMP/job.cfg" --set output.dir="$TMP/mm" --set train.resume=auto "$@"
    status=$?
    check "mismatch, $name: status 2 and '$pattern'" sh -c "[ $status -eq 2 ] && grep -q \"$pattern\" '$TMP/out'"
    rm -rf "$TMP/mm"
}
expect_mismatch "optimizer" "the optimizer differs (optimizer.type): it has adam, this run sgd" 2 \
    --set optimizer.type=sgd
expect_mismatch "mode" "the parallel mode differs (parallel.mode): it has allreduce, this run ps" 2 \
    --set parallel.mode=ps
expect_mismatch "model shape" "the model differs: it holds a softmax model with 8 features" 2 \
    --set data.train="$TMP/wide.h5" --set data.val=
expect_mismatch "model type" "the model differs: it holds a softmax model" 2 --set model.type=mlp
expect_mismatch "config key" "the config differs: 'optimizer.lr = 0.01' there, 'optimizer.lr = 0.02' here" 2 \
    --set optimizer.lr=0.02
expect_mismatch "batch size" "'train.batch_size = 32' there, 'train.batch_size = 16' here" 2 \
    --set train.batch_size=16
train 2 nope --set train.resume="$TMP/none.h5"
check "resume = a missing path: status 2 naming it" \
    sh -c "[ $? -eq 2 ] && grep -q \"train.resume = '$TMP/none.h5': no such checkpoint\" '$TMP/out'"
echo "not a checkpoint" >"$TMP/junk.h5"
train 2 junk --set train.resume="$TMP/junk.h5"
check "resume = a file that is not HDF5: status 1 naming it" \
    sh -c "[ $? -eq 1 ] && grep -q '$TMP/junk.h5: cannot open checkpoint' '$TMP/out'"
train 2 bad --set output.checkpoint_every=2x
check "checkpoint_every = 2x: status 2 naming the key" \
    sh -c "[ $? -eq 2 ] && grep -q \"output.checkpoint_every = '2x'\" '$TMP/out'"

# --- ps-async: the checkpoint holds the servers' state at the end; resume goes on --------
train 3 async --set parallel.mode=ps-async --set train.epochs=3 --set output.checkpoint_every=1
check "ps-async, 3 epochs with checkpoint_every = 1: exit 0 and a checkpoint" \
    sh -c "[ $? -eq 0 ] && [ -f '$TMP/async/checkpoint.h5' ]"
v3=$(csv_last step "$TMP/async/metrics.csv")
train 3 async --set parallel.mode=ps-async --set train.epochs=5 --set output.checkpoint_every=1 \
    --set train.resume=auto
check "ps-async resume to epoch 5 exits 0 with 5 rows" \
    sh -c "[ $? -eq 0 ] && [ \$(tail -n +2 '$TMP/async/metrics.csv' | wc -l) -eq 5 ]"
check "ps-async: the servers' version goes on from the checkpoint's ($v3)" \
    gt "$(csv_last step "$TMP/async/metrics.csv")" "$((v3 + 10))"
async_state() {
    /usr/bin/python3 - "$TMP/async/summary.json" "$v3" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
p = s["ps"]
# restored versions: no push is counted stale by the whole checkpointed run
assert p["staleness"]["max"] < int(sys.argv[2]), p["staleness"]
assert p["conservation"]["ok"], p["conservation"]
assert s["status"] == "ok" and s["final"]["epoch"] == 5, s["final"]
PYEOF
}
check "ps-async: staleness after resume counts from the restored versions; conservation ok" async_state

# --- a damaged checkpoint: refused on every rank, naming the file, never trusted ---------
# (progress/position columns: epoch, step, steps taken in the epoch)
damage() {
    cp "$TMP/ep/checkpoint.h5" "$TMP/damaged.h5"
    /usr/bin/python3 - "$TMP/damaged.h5" "$1" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    if sys.argv[2] == "order":
        o = f["batcher/order"][...]
        o[0, 0] = 10**9  # a row index far past rank 0's shard
        f["batcher/order"][...] = o
    else:
        p = f["progress/position"][...]
        p[1, 1] += 5  # rank 1 five steps on
        f["progress/position"][...] = p
PYEOF
}
damage order
train 2 dmg --set train.resume="$TMP/damaged.h5"
check "a shard order naming a row past the shard: status 1 naming the file and the row" \
    sh -c "[ $? -eq 1 ] && grep -q '$TMP/damaged.h5.*shard order names row 1000000000' '$TMP/out'"
damage position
train 2 dmg --set train.resume="$TMP/damaged.h5"
check "ranks at different steps in the file: status 1, 'positions differ', no hang" \
    sh -c "[ $? -eq 1 ] && grep -q '$TMP/damaged.h5: the ranks. positions differ' '$TMP/out'"
