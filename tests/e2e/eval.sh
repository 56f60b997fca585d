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

# rejected CMD... NEEDLE: exit status 2 and NEEDLE in the message, never "unknown error".
rejected() {
    needle=$1
    shift
    "$GDMPI" "$@" >"$TMP/rej" 2>&1
    status=$?
    if [ $status -eq 2 ] && grep -qF -- "$needle" "$TMP/rej" && ! grep -q "unknown error" "$TMP/rej"; then
        ok "gdmpi $*: status 2: $needle"
    else
        notok "gdmpi $*: status $status; wanted 2 and: $needle"
        sed 's/^/# /' "$TMP/rej" | head -n 4
    fi
}
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
