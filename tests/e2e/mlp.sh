# End-to-end: the MLP learns what a linear model cannot, for every output type; model.h5
# keeps the architecture and batch-norm statistics for `gdmpi eval`; bad keys are reported.
. tests/lib.sh
PY=/usr/bin/python3

# Nonlinear data: three concentric rings (classes), XOR of two signs (0/1 labels) and a
# smooth nonlinear surface (regression). Linear models cannot separate or fit these.
$PY - "$TMP" <<'PYEOF'
import sys, h5py, numpy as np
def save(path, X, y):
    with h5py.File(path, "w") as f:
        f["X"] = X.astype(np.float32)
        f["y"] = y
def rings(n, r):
    k = r.integers(0, 3, n)
    rad = 1.0 + 1.5 * k + r.normal(0, 0.15, n)
    th = r.uniform(0, 2 * np.pi, n)
    return np.stack([rad * np.cos(th), rad * np.sin(th)], 1), k.astype(np.int32)
def xor(n, r):
    X = r.uniform(-1, 1, (n, 2))
    return X, ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int32)
def surface(n, r):
    X = r.uniform(-2, 2, (n, 2))
    return X, (np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2).astype(np.float32)
r = np.random.default_rng(4)
for name, make in (("rings", rings), ("xor", xor), ("surface", surface)):
    save(f"{sys.argv[1]}/{name}.h5", *make(3000, r))
    save(f"{sys.argv[1]}/{name}-val.h5", *make(1000, r))
PYEOF

# job NAME [KEY=VALUE]...: a small mlp job on $TMP/NAME.h5 into $TMP/NAME-run.
job() {
    name=$1
    shift
    cfg "$name" "$name" model.type=mlp model.hidden=32,32 optimizer.lr=0.1 train.epochs=20 \
        train.batch_size=32 output.dir="$TMP/$name-run"
    sets=""
    for kv in "$@"; do sets="$sets --set $kv"; done
    # shellcheck disable=SC2086
    mpi 2 "$TMP/$name.cfg" $sets
}
val_acc() { csv_last val_acc "$TMP/$1-run/metrics.csv"; }

job rings
check "mlp on concentric rings at np=2 reaches val_acc > 0.95 (got $(val_acc rings))" gt "$(val_acc rings)" 0.95
job rings model.type=softmax output.dir="$TMP/rings-lin-run"
check "softmax regression on the rings stays below 0.75 (got $(val_acc rings-lin))" gt 0.75 "$(val_acc rings-lin)"

job xor model.output=sigmoid model.activation=tanh
check "mlp with sigmoid output on XOR reaches val_acc > 0.95 (got $(val_acc xor))" gt "$(val_acc xor)" 0.95

job surface model.output=linear model.batchnorm=true optimizer.lr=0.05
mse=$(csv_last val_loss "$TMP/surface-run/metrics.csv")
job surface model.type=linreg optimizer.lr=0.05 output.dir="$TMP/surface-lin-run"
lin=$(csv_last val_loss "$TMP/surface-lin-run/metrics.csv")
# Both losses must be there and positive: a failed run leaves one empty, which awk reads as 0.
fits_surface() {
    [ -n "$mse" ] && [ -n "$lin" ] && gt "$mse" 0 && gt "$lin" "$(awk -v m="$mse" 'BEGIN{print 10 * m}')"
}
check "mlp with linear output fits a nonlinear surface: val_loss ${mse:-none} < linreg's ${lin:-none} / 10" \
    fits_surface

# Batch norm (synchronised, so every rank holds the same running statistics) and dropout:
# `gdmpi eval` on model.h5 reproduces the last epoch's validation loss and accuracy.
job rings model.batchnorm=true model.sync_bn=true model.dropout=0.1 output.dir="$TMP/bn-run"
"$GDMPI" eval --model "$TMP/bn-run/model.h5" --data "$TMP/rings-val.h5" >"$TMP/eval" 2>&1
val_loss=$(csv_last val_loss "$TMP/bn-run/metrics.csv")
same_eval() {
    awk -v l="$val_loss" -v a="$(val_acc bn)" '
        /^loss/ { dl = ($2 - l) / l } /^accuracy/ { da = $2 - a }
        END { exit !(dl < 1e-4 && dl > -1e-4 && da < 1e-4 && da > -1e-4) }' "$TMP/eval"
}
check "gdmpi eval of a batch-norm mlp gives the run's val_loss $val_loss and val_acc" same_eval
attributes() {
    $PY - "$TMP/bn-run/model.h5" <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
a = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()}
ok = a["model_type"] == "mlp" and a["hidden"] == "32,32" and a["batchnorm"] == "true" \
    and f["state"].shape == (2 * (32 + 32),)
sys.exit(0 if ok else print("#", a, list(f)) or 1)
PYEOF
}
check "model.h5 holds the architecture attributes and the running statistics" attributes

# Bad keys: the message names the key; the exit status is 2. (A fresh output.dir: rings'
# holds a run's outputs, and training into it would be refused before the config is.)
bad() {
    mpi 1 "$TMP/rings.cfg" --set output.dir="$TMP/bad-run" "$@"
    status=$?
    [ "$status" -eq 2 ] && grep -q "$msg" "$TMP/out"
}
msg="model.hidden = '32,x'"
check "model.hidden = 32,x is reported" bad --set model.hidden=32,x
msg="model.sync_bn = true needs model.batchnorm = true"
check "sync_bn without batchnorm is reported" bad --set model.sync_bn=true
msg="model.sync_bn = true needs parallel.mode = allreduce"
check "sync_bn in a mode without the sync_bn capability (local-sgd) is reported" bad \
    --set model.batchnorm=true --set model.sync_bn=true --set parallel.mode=local-sgd
msg="known: relu|tanh|sigmoid"
check "an unknown activation lists the known ones" bad --set model.activation=gelu
