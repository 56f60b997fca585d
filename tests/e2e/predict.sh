# gdmpi predict (issue 17): per-row predictions of a saved model, read with the model's
# recorded input; the same file at np=1 and np=2, as CSV and as HDF5; labels optional.
# scripts/gdmpi_model.py, NumPy alone on model.h5's layer groups, predicts the same.
. tests/lib.sh

KINDS="linreg logreg softmax mlp mlp-tanh mlp-bn mlp-sigmoid-bn mlp-linear cnn cnn-bn"
train_kinds $KINDS

# fixture_of KIND: the data set KIND was trained on (train_kinds' fixtures).
fixture_of() {
    case $1 in
    linreg | mlp-linear) echo lin ;;
    logreg | mlp-sigmoid-bn) echo bin ;;
    cnn | cnn-bn) echo img ;;
    *) echo cls ;;
    esac
}

# same_h5 A B: the two HDF5 files hold the same datasets (exactly) and root attributes.
same_h5() {
    $PY - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
assert sorted(a.keys()) == sorted(b.keys()), (list(a.keys()), list(b.keys()))
for k in a:
    assert a[k].dtype == b[k].dtype and np.array_equal(a[k][()], b[k][()]), k
assert dict(a.attrs) == dict(b.attrs), (dict(a.attrs), dict(b.attrs))
PYEOF
}

# layout KIND FILE: the documented datasets, shapes and attributes (docs/outputs.md), and
# the CSV FILE.csv beside it holds the same numbers.
layout() {
    $PY - "$2" "$2.csv" "$TMP/$(fixture_of "$1")-val.h5" <<'PYEOF'
import sys, csv, h5py, numpy as np
f, rows = h5py.File(sys.argv[1], "r"), list(csv.reader(open(sys.argv[2])))
n = h5py.File(sys.argv[3], "r")["X"].shape[0]
a, head, body = f.attrs, rows[0], np.array(rows[1:], dtype=float)
assert a["format"] == b"gdmpi predictions" and len(body) == n, (a["format"], len(body), n)
task = a["task"].decode()
if task == "regression":
    assert list(f.keys()) == ["value"] and f["value"].shape == (n,) and head == ["value"]
    assert np.allclose(body[:, 0], f["value"][()], rtol=0, atol=1e-6)
    sys.exit(0)
k = int(a["classes"])
p, c = f["probability"][()], f["class"][()]
assert sorted(f.keys()) == ["class", "probability"] and c.dtype == np.int32 and c.shape == (n,)
if task == "binary":
    assert p.shape == (n,) and head == ["class", "p1"] and np.array_equal(c, p > 0.5)
else:
    assert p.shape == (n, k) and head == ["class"] + ["p%d" % j for j in range(k)]
    assert np.allclose(p.sum(axis=1), 1, atol=1e-5) and np.array_equal(c, p.argmax(axis=1))
assert np.array_equal(body[:, 0], c) and np.allclose(body[:, 1:], p.reshape(n, -1), rtol=0, atol=1e-6)
PYEOF
}

# accuracy_matches KIND FILE: the classes in FILE score on the labels what `gdmpi eval`
# prints for the same model and data (so predict runs the model eval runs).
accuracy_matches() {
    "$GDMPI" eval --model "$TMP/$1/model.h5" --data "$TMP/$(fixture_of "$1")-val.h5" >"$TMP/ev" 2>&1
    $PY - "$2" "$TMP/$(fixture_of "$1")-val.h5" "$TMP/ev" <<'PYEOF'
import sys, h5py, numpy as np
c = h5py.File(sys.argv[1], "r")["class"][()]
y = h5py.File(sys.argv[2], "r")["y"][()]
acc = float(open(sys.argv[3]).read().split("accuracy")[1])
assert abs((c == y).mean() - acc) < 1e-4, ((c == y).mean(), acc)
PYEOF
}

for kind in $KINDS; do
    data=$TMP/$(fixture_of "$kind")-val.h5 out=$TMP/$kind-pred
    for np in 1 $(ranks 2); do
        for ext in h5 csv; do
            mpi $np predict --model "$TMP/$kind/model.h5" --data "$data" -o "$out$np.$ext"
            check "$kind: predict at np=$np ends with 'wrote 200 predictions to $out$np.$ext'" \
                grep -qx "wrote 200 predictions to $out$np.$ext" "$TMP/out"
        done
    done
    check "$kind: predict writes the same HDF5 contents at np=1 and np=2" same_h5 "$out"1.h5 "$out"2.h5
    check "$kind: predict writes the same CSV at np=1 and np=2" cmp -s "$out"1.csv "$out"2.csv
    cp "$out"1.csv "$out"1.h5.csv
    check "$kind: the predictions file has the documented layout; the CSV the same numbers" \
        layout "$kind" "$out"1.h5
    case $kind in linreg | mlp-linear) ;; *)
        check "$kind: predict's classes score what gdmpi eval prints" accuracy_matches "$kind" "$out"1.h5 ;;
    esac
done
# same_as_numpy KIND: scripts/gdmpi_model.py on a copy of model.h5 without the flat
# vectors (params, state, W, b: it must use the layer groups) prints gdmpi predict's CSV:
# the same header, the classes exactly, probabilities or values within 1e-5.
same_as_numpy() {
    cp "$TMP/$1/model.h5" "$TMP/$1-layers.h5"
    $PY -c 'import sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    for k in ("params", "state", "W", "b"): f.pop(k, None)' "$TMP/$1-layers.h5"
    $PY scripts/gdmpi_model.py "$TMP/$1-layers.h5" "$TMP/$(fixture_of "$1")-val.h5" >"$TMP/np.csv" &&
        $PY - "$TMP/np.csv" "$TMP/$1-pred1.csv" <<'PYEOF'
import sys, csv, numpy as np
a, b = (list(csv.reader(open(p))) for p in sys.argv[1:3])
assert a[0] == b[0] and len(a) == len(b) > 1, (a[0], b[0], len(a), len(b))
x, y = np.array(a[1:], dtype=float), np.array(b[1:], dtype=float)
values = slice(0, None) if a[0] == ["value"] else slice(1, None)
assert values.start == 0 or np.array_equal(x[:, 0], y[:, 0]), "classes differ"
assert np.abs(x[:, values] - y[:, values]).max() <= 1e-5, np.abs(x[:, values] - y[:, values]).max()
PYEOF
}
for kind in $KINDS; do
    check "$kind: scripts/gdmpi_model.py predicts what gdmpi predict writes" same_as_numpy "$kind"
done

check "no temporary file is left beside the outputs" [ -z "$(ls "$TMP" | grep '\.tmp$')" ]

# Labels are optional: a file with the features alone gives the same predictions.
$PY -c 'import sys, h5py
with h5py.File(sys.argv[2], "w") as o: o["X"] = h5py.File(sys.argv[1], "r")["X"][()]' \
    "$TMP/cls-val.h5" "$TMP/nolabels.h5"
mpi 2 predict --model "$TMP/softmax/model.h5" --data "$TMP/nolabels.h5" -o "$TMP/nolabels.csv"
check "predict on a file without labels at np=2 gives the same predictions" \
    cmp -s "$TMP/nolabels.csv" "$TMP/softmax-pred1.csv"

# Errors name the file or the option: data errors exit 1, command-line errors 2.
M=$TMP/softmax/model.h5 D=$TMP/cls-val.h5
refused 1 "$TMP/missing.h5: no such file" predict --model "$M" --data "$TMP/missing.h5" -o "$TMP/x.h5"
refused 1 "$TMP/missing.h5" predict --model "$TMP/missing.h5" --data "$D" -o "$TMP/x.h5"
fixture wide softmax rows=50 features=4 classes=3 seed=3
refused 1 "$TMP/wide.h5: 4 features, but the model $TMP/mlp/model.h5 expects 5" \
    predict --model "$TMP/mlp/model.h5" --data "$TMP/wide.h5" -o "$TMP/x.h5"
refused 2 "unexpected argument '--bogus'" predict --model "$M" --data "$D" -o "$TMP/x.h5" --bogus 1
refused 2 "predict needs --model, --data and -o" predict --model "$M" --data "$D"
refused 2 "'-o' needs one value, given once" predict --model "$M" --data "$D" -o "$TMP/x.h5" -o "$TMP/y.h5"
refused 2 "-o '$TMP/x.txt': the name must end in .h5 or .csv" predict --model "$M" --data "$D" -o "$TMP/x.txt"
refused 2 "-o '$D' would replace an input" predict --model "$M" --data "$D" -o "$D"
nothing_at() { [ ! -e "$1" ] && [ ! -e "$1.tmp" ]; }
check "a failed predict writes nothing" nothing_at "$TMP/x.h5"
