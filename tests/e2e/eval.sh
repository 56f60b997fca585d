# Using a trained model (issue 17): model.h5 records its input (data.scale, the dataset
# names), so the README's `gdmpi eval --model M --data D` gives the numbers `gdmpi eval
# CONFIG` gives on uint8 data with a scale; options a command does not take are errors
# (status 2), never ignored.
. tests/lib.sh

# u8: a generated softmax task, stored as Fashion-MNIST is (uint8 features to be scaled),
# under dataset names other than the defaults (images, labels).
fixture gen softmax rows=2000 features=16 classes=4 noise=0.1 seed=7 val_rows=600
$PY - "$TMP/gen.h5" "$TMP/u8.h5" "$TMP/gen-val.h5" "$TMP/u8-val.h5" <<'PYEOF'
import sys, h5py, numpy as np
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    d = h5py.File(src, "r")
    with h5py.File(dst, "w") as o:
        o["images"] = np.clip(np.rint(d["X"][()] * 40 + 128), 0, 255).astype(np.uint8)
        o["labels"] = d["y"][()]
PYEOF
cfg u8 u8 model.type=softmax model.classes=4 data.features=images data.labels=labels \
    data.scale=0.00392156862745098 train.epochs=3 optimizer.lr=0.5 output.dir="$TMP/u8"
mpi 2 "$TMP/u8.cfg"
check "softmax on uint8 data with data.scale trains at np=2" [ $? -eq 0 ]
"$GDMPI" eval "$TMP/u8.cfg" >"$TMP/by-config" 2>&1
check "gdmpi eval CONFIG prints an accuracy" grep -q '^accuracy 0\.[5-9]' "$TMP/by-config"

# The README's example, word for word but for the two paths.
example=$(grep -m1 '^gdmpi eval --model' README.md | sed 's/ *#.*//')
check "README.md has a 'gdmpi eval --model M --data D' example" [ -n "$example" ]
set -- $(echo "$example" | sed "s|^gdmpi ||; s|runs/run/model.h5|$TMP/u8/model.h5|; s|data/fmnist-test.h5|$TMP/u8-val.h5|")
"$GDMPI" "$@" >"$TMP/by-model" 2>&1
check "the README's eval example prints what gdmpi eval CONFIG prints (uint8, scale)" \
    cmp -s "$TMP/by-config" "$TMP/by-model"
same_as_run() {
    awk -v acc="$(csv_last val_acc "$TMP/u8/metrics.csv")" -v loss="$(csv_last val_loss "$TMP/u8/metrics.csv")" '
        $1 == "loss" { dl = $2 - loss } $1 == "accuracy" { da = $2 - acc; seen = 1 }
        END { exit !(seen && dl < 1e-5 && dl > -1e-5 && da < 1e-4 && da > -1e-4) }' "$TMP/by-model"
}
check "eval --model --data gives the run's last val_loss and val_acc" same_as_run
mpi 2 eval --model "$TMP/u8/model.h5" --data "$TMP/u8-val.h5"
grep -v '^#' "$TMP/out" >"$TMP/by-model-np2"
check "eval --model --data at np=2 prints the same numbers" cmp -s "$TMP/by-config" "$TMP/by-model-np2"

# rejected NEEDLE CMD...: exit status 2 (a command-line error) and NEEDLE in the message.
rejected() { refused 2 "$@"; }
M=$TMP/u8/model.h5 D=$TMP/u8-val.h5
rejected "unexpected argument '--scale'" eval --model "$M" --data "$D" --scale 1
rejected "unexpected argument '--set'" eval --model "$M" --data "$D" --set data.scale=1
rejected "eval needs both --model and --data" eval --model "$M"
rejected "'--data' needs one value" eval --model "$M" --data "$D" --data "$D"
rejected "data.scale = 1, but $M was trained with data.scale = 0.0039" \
    eval "$TMP/u8.cfg" --set data.scale=1
rejected "unexpected argument '--scale'" eval "$TMP/u8.cfg" --scale 1
rejected "unexpected argument '--bogus'" "$TMP/u8.cfg" --bogus
rejected "unexpected argument '--bogus'" train "$TMP/u8.cfg" --bogus
rejected "unexpected argument '--bogus'" config "$TMP/u8.cfg" --bogus
rejected "unexpected argument '--set'" config "$TMP/u8.cfg" --set
rejected "unknown option '--bogus'" data gen --task linreg --bogus 1 -o "$TMP/x.h5"
rejected "unknown option '--bogus'" data convert idx --bogus x
rejected "data info takes one FILE.h5" data info "$D" extra
rejected "unknown data command 'frob'" data frob
rejected "--version takes no arguments" --version --bogus

# A model.h5 from before the input was recorded: eval --model refuses to guess the scale.
cp "$M" "$TMP/old.h5"
$PY -c 'import sys, h5py
f = h5py.File(sys.argv[1], "a")
for k in ("data.scale", "data.features", "data.labels"): del f.attrs[k]' "$TMP/old.h5"
rejected "$TMP/old.h5 does not record its input" eval --model "$TMP/old.h5" --data "$D"

# Every model type (lib.sh's train_kinds; the runs are reused below).
KINDS="linreg logreg softmax mlp mlp-bn mlp-sigmoid-bn mlp-linear"
train_kinds $KINDS

# The per-layer view holds the flat vectors exactly, in models.md's layout: the weights of
# every layer, then each layer's b (or gamma, beta); state: each batch-norm layer's running
# mean and variance. Shapes and attributes say what each layer is.
layers_match() {
    $PY - "$TMP/$1/model.h5" "$2" <<'PYEOF'
import sys, h5py, numpy as np
f, want = h5py.File(sys.argv[1], "r"), sys.argv[2].split(",")
a = f.attrs
n = int(a["layers"])
L = [f["layer%d" % (i + 1)] for i in range(n)]
assert a["format"] == b"gdmpi model" and a["version"] == 2, (a["format"], a["version"])
assert [g.attrs["activation"].decode() for g in L] == want, [g.attrs["activation"] for g in L]
assert L[0].attrs["in"] == a["features"] and L[-1].attrs["out"] == a["outputs"]
for g, h in zip(L, L[1:]):
    assert h.attrs["in"] == g.attrs["out"]
for g in L:
    assert g["W"].shape == (g.attrs["out"], g.attrs["in"]), g["W"].shape
    tail = ["gamma", "beta", "running_mean", "running_var"] if g.attrs["batchnorm"] else ["b"]
    assert sorted(g.keys()) == sorted(["W"] + tail), list(g.keys())
    assert all(g[k].shape == (g.attrs["out"],) for k in tail)
tails = [g[k][()] for g in L for k in (("gamma", "beta") if g.attrs["batchnorm"] else ("b",))]
flat = np.concatenate([g["W"][()].ravel() for g in L] + tails)
assert np.array_equal(flat, f["params"][()]), "layers != params"
stats = [g[k][()] for g in L if g.attrs["batchnorm"] for k in ("running_mean", "running_var")]
assert ("state" in f) == bool(stats)
assert not stats or np.array_equal(np.concatenate(stats), f["state"][()]), "layers != state"
classes = {"regression": 0, "binary": 2}.get(a["task"].decode(), a["outputs"])
assert a["classes"] == classes, (a["task"], a["classes"])
PYEOF
}
check "model.h5 of linreg: layer1 (linear) holds params" layers_match linreg linear
check "model.h5 of logreg: layer1 (sigmoid) holds params" layers_match logreg sigmoid
check "model.h5 of softmax: layer1 (softmax) holds params" layers_match softmax softmax
check "model.h5 of an mlp: three layers hold params" layers_match mlp relu,relu,softmax
check "model.h5 of an mlp with batch norm: layers hold params and state" layers_match mlp-bn relu,relu,softmax
check "model.h5 of a sigmoid mlp with batch norm: layers hold params and state" \
    layers_match mlp-sigmoid-bn relu,relu,sigmoid
check "model.h5 of a linear-output tanh mlp: layers hold params" layers_match mlp-linear tanh,tanh,linear
