# The overlapped, bucketed allreduce and sync batch norm of the MLP; the cnn's overlap.
. tests/lib.sh
PY=/usr/bin/python3

# Strategy level: N steps with overlap on and off give the same parameters (1e-6), with
# uneven batches, an empty one, batch norm, dropout and sync_bn; and sync_bn at np=2 equals
# one model on the concatenated batch.
for np in 2 3; do
    mpitest $np "$BUILD/tests/mpi_overlap" overlap
done
mpitest 2 "$BUILD/tests/mpi_overlap" syncbn

# Whole runs: the same job with parallel.overlap = true and false ends with the same model.
fixture d softmax rows=1203 features=20 classes=4 seed=9
cfg mlp d model.type=mlp model.hidden=48,24 optimizer.lr=0.1 train.epochs=2 train.batch_size=50 \
    parallel.bucket_kb=2
same_models() {
    $PY - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["params"][()] for p in sys.argv[1:3])
d = np.abs(a - b).max()
sys.exit(0 if d <= 1e-6 else print("# max difference", d) or 1)
PYEOF
}
for np in 2 3; do
    mpi $np "$TMP/mlp.cfg" --set parallel.overlap=false --set output.dir="$TMP/plain$np"
    mpi $np "$TMP/mlp.cfg" --set parallel.overlap=true --set output.dir="$TMP/over$np"
    check "gdmpi at np=$np: overlapped and plain allreduce give the same model.h5 (1e-6)" \
        same_models "$TMP/plain$np/model.h5" "$TMP/over$np/model.h5"
done

# The cnn reports its slices the same way: overlapped and plain at np=2 end with the same
# model (its 996 parameters in four buckets of 1 KiB), with batch norm over channels
# (sync_bn: one reduction per layer forward and backward, beside the buckets) and dropout.
fixture img softmax rows=603 features=64 classes=4 seed=9
cfg cnn img model.type=cnn model.layers=conv3x3x4p1,pool2,conv3x3x6s1p1,avgpool2,fc24 \
    model.batchnorm=true model.sync_bn=true model.dropout=0.2 \
    optimizer.lr=0.05 train.epochs=2 train.batch_size=50 parallel.bucket_kb=1
mpi 2 "$TMP/cnn.cfg" --set parallel.overlap=false --set output.dir="$TMP/cnn-plain"
mpi 2 "$TMP/cnn.cfg" --set parallel.overlap=true --set output.dir="$TMP/cnn-over"
check "cnn at np=2: overlapped and plain allreduce give the same model.h5 (1e-6)" \
    same_models "$TMP/cnn-plain/model.h5" "$TMP/cnn-over/model.h5"
cnn_overlapped() { grep -q '"overlap": true' "$TMP/cnn-over/summary.json" &&
    grep -q '"overlap": false' "$TMP/cnn-plain/summary.json"; }
check "cnn: summary.json says which run overlapped" cnn_overlapped

# summary.json says how much communication was hidden behind backward. With several
# buckets there is something to hide: the buckets posted while backward still computes
# the earlier layers are in flight during compute, so the hidden time is above 0 however
# loaded the machine (it is time in flight, not time saved; how much is saved on 2 cores
# is a benchmark's question: docs/benchmarks.md). Buckets posted only after backward would
# leave it at 0.
summary_fields() {
    $PY - "$TMP/over2/summary.json" <<'PYEOF'
import sys, json
a = json.load(open(sys.argv[1]))["allreduce"]
ok = a["overlap"] is True and a["buckets"] > 1 and a["comm_hidden_s"] > 0 \
    and a["comm_exposed_s"] >= 0 and 0 < a["hidden_frac"] <= 1
sys.exit(0 if ok else print("#", a) or 1)
PYEOF
}
check "summary.json reports hidden and exposed communication time" summary_fields
# auto: on for mlp only when the node has a core beyond its ranks (here: nproc > 2 at np=2).
want=false
[ "$(nproc)" -gt 2 ] && want=true
overlap_auto() { grep -q '"overlap": true' "$TMP/over2/summary.json" &&
    mpi 2 "$TMP/mlp.cfg" --set output.dir="$TMP/auto" && grep -q "\"overlap\": $want" "$TMP/auto/summary.json"; }
check "parallel.overlap = auto at np=2 on $(nproc) cores: overlap $want for mlp" overlap_auto
# One rank: nothing to overlap with, so the step is plain even when overlap = true, and the
# model is the one plain gives (to the bit: no bucket splits the first layer's GEMM).
one_rank_plain() {
    mpi 1 "$TMP/mlp.cfg" --set parallel.overlap=true --set output.dir="$TMP/over1" &&
        mpi 1 "$TMP/mlp.cfg" --set parallel.overlap=false --set output.dir="$TMP/plain1" &&
        grep -q '"overlap": false' "$TMP/over1/summary.json" &&
        $PY - "$TMP/over1/model.h5" "$TMP/plain1/model.h5" <<'PYEOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["params"][()] for p in sys.argv[1:3])
sys.exit(0 if np.array_equal(a, b) else 1)
PYEOF
}
check "at np=1 overlap = true runs plain, with plain's model" one_rank_plain

# 1202 rows over 3 ranks (401, 401, 400) in batches of 200: rank 2 has no rows at the third
# step but must still take part in sync_bn's reductions and the buckets: no hang, same model.
fixture d2 softmax rows=1202 features=20 classes=4 seed=9
mpi 3 "$TMP/mlp.cfg" --set data.train="$TMP/d2.h5" --set model.batchnorm=true \
    --set model.sync_bn=true --set train.batch_size=200 --set output.dir="$TMP/sync3"
check "sync_bn with uneven shards at np=3 completes" grep -q '"status": "ok"' "$TMP/sync3/summary.json"
