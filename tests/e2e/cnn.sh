# End-to-end: the cnn learns to tell strokes apart wherever they are in the image (what
# convolution and pooling are for), at np=2; gdmpi eval reads its model.h5 back to the same
# accuracy; bad layer strings and shapes that do not fit end every rank with a config error
# that names the key and the layer; a checkpoint and a resume keep batch norm's and
# dropout's state.
. tests/lib.sh
PY=/usr/bin/python3

# 10x10 one-channel images: a horizontal, a vertical or a diagonal stroke of length 4 at a
# random place, on noise (classes 0, 1, 2).
$PY - "$TMP" <<'PYEOF'
import sys, h5py, numpy as np
r = np.random.default_rng(5)
def strokes(n):
    X = r.normal(0, 0.3, (n, 10, 10)).astype(np.float32)
    y = r.integers(0, 3, n)
    for i, k in enumerate(y):
        a, b = r.integers(0, 6, 2)
        for t in range(4):
            X[i, a + t * (k != 0), b + t * (k != 1)] += 1.5
    return X.reshape(n, 100), y.astype(np.int32)
for name, n in (("strokes", 3000), ("strokes-val", 600)):
    X, y = strokes(n)
    with h5py.File(f"{sys.argv[1]}/{name}.h5", "w") as f:
        f["X"], f["y"] = X, y
PYEOF

cfg cnn strokes model.type=cnn model.layers=conv3x3x8p1,pool2,conv3x3x8,fc16 \
    optimizer.type=momentum optimizer.lr=0.05 train.epochs=4 train.batch_size=32 \
    output.dir="$TMP/cnn-run"
mpi 2 "$TMP/cnn.cfg"
acc=$(csv_last val_acc "$TMP/cnn-run/metrics.csv")
check "cnn at np=2 tells the strokes apart anywhere in the image (val_acc $acc >= 0.95)" \
    gt "$acc" 0.949
eval_matches() {
    "$GDMPI" eval --model "$TMP/cnn-run/model.h5" --data "$TMP/strokes-val.h5" >"$TMP/ev" 2>&1 &&
        awk -v acc="$acc" '$1 == "accuracy" { d = $2 - acc; ok = d < 1e-4 && d > -1e-4 } END { exit !ok }' "$TMP/ev"
}
check "gdmpi eval rebuilds the cnn from model.h5: the accuracy of the last epoch" eval_matches

# bad_layers NEEDLE KEY=VALUE...: at np=2 the run ends with status 2 and NEEDLE, within 20 s,
# and writes no model.
bad_layers() {
    needle=$1
    shift
    sets="--set output.dir=$TMP/bad"
    for kv in "$@"; do sets="$sets --set $kv"; done
    rm -rf "$TMP/bad"
    # shellcheck disable=SC2086
    timeout -k 2 20 mpirun --oversubscribe -np 2 "$GDMPI" "$TMP/cnn.cfg" $sets >"$TMP/out" 2>&1
    status=$?
    if [ $status -eq 2 ] && grep -qF -- "$needle" "$TMP/out" && [ ! -e "$TMP/bad/model.h5" ]; then
        ok "bad cnn config $*: $needle"
    else
        notok "bad cnn config $*: status $status; wanted 2 and: $needle"
        sed 's/^/# /' "$TMP/out" | head -n 3
    fi
}
bad_layers "model.layers: layer 2 'pool': unknown layer" model.layers=conv3x3x8,pool,fc16
bad_layers "model.layers: layer 1 'conv3x3': expected convKxKxC" model.layers=conv3x3
bad_layers "model.layers: layer 3 'conv3x3x8': its 3x3 window does not fit its 1x1x8 input" \
    model.layers=conv5x5x8s2,pool2,conv3x3x8
bad_layers "model.layers: layer 1 'conv11x11x8': its 11x11 window does not fit its 10x10x1 input" \
    model.layers=conv11x11x8
bad_layers "data.shape = '10x5x1' is 50 values a row; the data has 100 features" data.shape=10x5x1
bad_layers "model.sync_bn = true needs model.batchnorm = true" model.sync_bn=true

# A checkpoint keeps the cnn's state: with batch norm (per-rank running statistics per
# channel) and dropout (per-rank streams), 2 epochs, a checkpoint, and a resume to 4 end
# with the model of 4 epochs run straight through, bit for bit.
. tests/e2e/lib/checkpoint.sh
BN="--set model.batchnorm=true --set model.dropout=0.2"
# shellcheck disable=SC2086
{
    mpi 2 "$TMP/cnn.cfg" $BN --set output.dir="$TMP/bn-full"
    mpi 2 "$TMP/cnn.cfg" $BN --set output.dir="$TMP/bn-ck" --set train.epochs=2 \
        --set output.checkpoint_every=1
    mpi 2 "$TMP/cnn.cfg" $BN --set output.dir="$TMP/bn-ck" --set output.checkpoint_every=1 \
        --set train.resume=auto
}
check "cnn with batch norm and dropout: resumed after epoch 2, model.h5 is bit for bit the uninterrupted one" \
    same_model "$TMP/bn-full" "$TMP/bn-ck"
