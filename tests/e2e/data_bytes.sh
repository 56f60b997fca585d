# uint8 features stay bytes in memory (gd_data_load_compact) and become floats batch by
# batch: the same data stored as uint8 and as float32 must train to the same model.h5.
# The conversion is the one the float path makes (byte -> float, times data.scale in
# float), so the parameters agree to the bit; checked for every way a batch is formed:
# shuffled rows (np=2), file order, curriculum, one batch holding the shard, and per-rank
# files.
. tests/lib.sh
PY=/usr/bin/python3
$PY - "$TMP" <<'PY'
import sys, h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(5)
x = rng.integers(0, 256, size=(600, 12), dtype=np.uint8)
w = rng.normal(size=(12, 3))
y = np.argmax((x / 255.0) @ w + rng.normal(scale=0.1, size=(600, 3)), axis=1).astype(np.int32)
for name, xs in (("u8", x), ("f32", x.astype(np.float32))):
    with h5py.File(f"{d}/{name}.h5", "w") as f:
        f["X"], f["y"] = xs, y
    for r in range(2):  # per-rank files: rows 0..299 and 300..599
        with h5py.File(f"{d}/{name}-r{r}.h5", "w") as f:
            f["X"], f["y"] = xs[300 * r:300 * (r + 1)], y[300 * r:300 * (r + 1)]
PY

# same_models A B: every dataset of A's and B's model.h5 has the same bytes.
same_models() {
    $PY - "$1/model.h5" "$2/model.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
assert names, "no datasets"
for n in names:
    assert a[n].dtype == b[n].dtype and np.array_equal(a[n][()], b[n][()]), n
PY
}

# both NAME NP FILE_STEM [--set ...]: trains on the uint8 and the float32 file, compares.
both() {
    b_name=$1 b_np=$2 b_stem=$3
    shift 3
    for kind in u8 f32; do
        mpi "$b_np" "$TMP/base.cfg" --set data.train="$TMP/$kind$b_stem.h5" \
            --set output.dir="$TMP/$b_name-$kind" "$@" || notok "$b_name: $kind run failed"
    done
    check "uint8 and float32 features give the same model.h5: $b_name" \
        same_models "$TMP/$b_name-u8" "$TMP/$b_name-f32"
}

cfg base - data.features=X data.labels=y data.scale=0.00392156862745098 model.type=mlp \
    model.classes=3 model.hidden=8 optimizer.type=adam train.epochs=3 train.batch_size=32 \
    train.seed=3
both "shuffled rows at np=2" 2 ""
both "file order" 1 "" --set data.order=sequential
both "curriculum" 1 "" --set data.order=curriculum
both "one batch holds the shard" 1 "" --set train.batch_size=full
both "per-rank files at np=2" 2 "-r{rank}"
