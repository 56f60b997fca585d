# The bad-data corpus: every bad input ends a run at np=2 and at np=4 within 10 s, with a
# non-zero status, a message that names the culprit, no core dump, and nothing in
# output.dir that claims success (no model.h5, no summary.json saying "ok").
. tests/lib.sh
PY=/usr/bin/python3

fixture good softmax rows=200 features=4 classes=3 seed=1
$PY - "$TMP" <<'PYEOF'
import sys, h5py, numpy as np
d = sys.argv[1]
X = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
y = (np.arange(200) % 3).astype(np.int32)
def write(name, **sets):
    with h5py.File(f"{d}/{name}.h5", "w") as f:
        for k, v in sets.items():
            f[k] = v
write("nolabels", X=X)
write("flat", X=X.ravel(), y=y)
write("cube", X=X.reshape(200, 2, 2), y=y)
write("short", X=X, y=y[:150])
bad = y.copy(); bad[137] = 7
write("range", X=X, y=bad)
nan = X.copy(); nan[42, 1] = np.nan
write("nan", X=nan, y=y)
inf = X.copy(); inf[99, 0] = np.inf
write("inf", X=inf, y=y)
write("tiny", X=X[:1], y=y[:1])
write("wide", X=np.zeros((20, 5), np.float32), y=y[:20])
write("strings", X=np.array([b"a", b"b"] * 100).reshape(200, 1), y=y)
write("empty", X=np.zeros((0, 4), np.float32), y=np.zeros(0, np.int32))
PYEOF
printf 'not hdf5 at all\n' >"$TMP/text.h5"
head -c 3000 "$TMP/good.h5" >"$TMP/trunc.h5"

bad_cfg() { # bad_cfg NAME TRAIN [VAL]: a config that trains softmax on TRAIN
    printf '[data]\ntrain = %s\nval = %s\n[train]\nepochs = 1\n[output]\ndir = %s/out-%s\n' \
        "$2" "${3:-}" "$TMP" "$1" >"$TMP/$1.cfg"
}

# expect NAME NEEDLE [gdmpi args...]: at np=2 and np=4 the run fails fast and says NEEDLE.
ulimit -c unlimited 2>/dev/null
expect() {
    name=$1 needle=$2
    shift 2
    for np in $(ranks "2 4"); do
        rm -rf "$TMP/out-$name"
        start=$(date +%s)
        timeout -k 2 10 mpirun --oversubscribe -np $np "$GDMPI" "$@" >"$TMP/out" 2>&1
        status=$?
        took=$(($(date +%s) - start))
        if [ $status -ne 0 ] && [ $status -lt 124 ] && [ $took -le 10 ] && grep -qF -- "$needle" "$TMP/out" \
            && [ ! -e "$TMP/out-$name/model.h5" ] && ! grep -qs '"status": "ok"' "$TMP/out-$name/summary.json" \
            && ! ls "$TMP"/core* >/dev/null 2>&1; then
            ok "np=$np bad input '$name' is refused: $needle"
        else
            notok "np=$np bad input '$name': status $status after ${took}s; wanted message: $needle"
            sed 's/^/# /' "$TMP/out" | head -n 8
        fi
    done
}

for c in missing text trunc nolabels flat cube short range nan inf tiny strings empty; do
    bad_cfg $c "$TMP/$c.h5"
done
bad_cfg wide "$TMP/good.h5" "$TMP/wide.h5"
bad_cfg valrange "$TMP/good.h5" "$TMP/range.h5"

expect missing "$TMP/missing.h5: no such file" "$TMP/missing.cfg"
expect text "$TMP/text.h5: not an HDF5 file" "$TMP/text.cfg"
expect trunc "$TMP/trunc.h5" "$TMP/trunc.cfg"
expect nolabels "missing dataset 'y'" "$TMP/nolabels.cfg"
expect flat "dataset 'X' has 1 dimensions; expected 2" "$TMP/flat.cfg"
expect cube "dataset 'X' has 3 dimensions; expected 2" "$TMP/cube.cfg"
expect short "dataset 'y' has 150 values but 'X' has 200 rows" "$TMP/short.cfg"
expect range "label 7 at row 137 is not a class in [0, 3)" "$TMP/range.cfg" --set model.classes=3
expect nan "non-finite value (NaN or Inf) in dataset 'X' at row 42" "$TMP/nan.cfg"
expect inf "non-finite value (NaN or Inf) in dataset 'X' at row 99" "$TMP/inf.cfg"
expect tiny "1 rows for" "$TMP/tiny.cfg"

expect strings "dataset 'X' is not numeric" "$TMP/strings.cfg"
expect empty "dataset 'X' is empty" "$TMP/empty.cfg"
expect wide "$TMP/wide.h5: 5 features, but the training data" "$TMP/wide.cfg"
expect valrange "$TMP/range.h5: label 7 at row 137" "$TMP/valrange.cfg" --set model.classes=3

# Config errors: exit status 2, file and line or key named.
printf '[data]\ntrain = %s\n[optimizer]\nlrr = 0.1\n' "$TMP/good.h5" >"$TMP/typo.cfg"
expect typo "typo.cfg:4: unknown key 'lrr' in [optimizer]" "$TMP/typo.cfg"
config_status() {
    timeout 10 mpirun --oversubscribe -np 2 "$GDMPI" "$TMP/typo.cfg" >/dev/null 2>&1
    [ $? -eq 2 ]
}
check "a config error exits with status 2" config_status
expect nocfg "nope.cfg: cannot open config" "$TMP/nope.cfg"
expect badset "--set train.epochs=-1: train.epochs = -1: out of range" "$TMP/missing.cfg" --set train.epochs=-1
printf '[data]\ntrain = %s\n[output]\ndir = /proc/gdmpi-cannot-write\n' "$TMP/good.h5" >"$TMP/nodir.cfg"
expect nodir "output.dir = '/proc/gdmpi-cannot-write': cannot create directory" "$TMP/nodir.cfg"

# The IDX converter: truncated and mislabelled files name the file.
SRC=/usr/share/datasets/fashion-mnist
if [ -f $SRC/t10k-labels-idx1-ubyte.gz ]; then
    zcat $SRC/t10k-labels-idx1-ubyte.gz | head -c 5000 >"$TMP/cut-labels.idx"
    zcat $SRC/t10k-images-idx3-ubyte.gz | head -c 100000 | gzip >"$TMP/cut-images.idx.gz"
    converts_badly() { # converts_badly IMAGES LABELS NEEDLE
        "$GDMPI" data convert idx --images "$1" --labels "$2" -o "$TMP/conv.h5" >"$TMP/out" 2>&1
        [ $? -ne 0 ] && grep -qF -- "$3" "$TMP/out" && [ ! -e "$TMP/conv.h5" ]
    }
    check "convert: truncated label file is named" converts_badly $SRC/t10k-images-idx3-ubyte.gz \
        "$TMP/cut-labels.idx" "$TMP/cut-labels.idx: truncated IDX file"
    check "convert: truncated gzip image file is named" converts_badly "$TMP/cut-images.idx.gz" \
        $SRC/t10k-labels-idx1-ubyte.gz "$TMP/cut-images.idx.gz: truncated IDX file"
    check "convert: labels given as images is refused" converts_badly $SRC/t10k-labels-idx1-ubyte.gz \
        $SRC/t10k-labels-idx1-ubyte.gz "bad IDX magic"
    check "convert: train images with test labels is refused" converts_badly \
        $SRC/train-images-idx3-ubyte.gz $SRC/t10k-labels-idx1-ubyte.gz "10000"
fi
