# MPI tests of the core trainer at np = 1, 2, 3 (uneven shards) and 4.
. tests/lib.sh
PY=/usr/bin/python3

fixture d softmax rows=1003 features=6 classes=3 seed=5
for r in 0 1 2 3; do
    fixture part-$r softmax rows=$((50 + 7 * r)) features=6 classes=3 seed=$((10 + r))
done

for np in 1 2 3 4; do
    # The per-rank pattern only exists for ranks 0..3, which covers every np here.
    mpitest $np "$BUILD/tests/mpi_shard" "$TMP/d.h5" "$TMP/part-{rank}.h5"
    mpitest $np "$BUILD/tests/mpi_allreduce"
done

# Full-batch gradient descent is the same computation at any rank count: the loss
# trajectories of np=1 and np=4 agree to float rounding.
cfg full d train.epochs=15 train.batch_size=full optimizer.lr=0.5
mpi 1 "$TMP/full.cfg" --set output.dir="$TMP/np1"
mpi 4 "$TMP/full.cfg" --set output.dir="$TMP/np4"
same_trajectory() {
    paste -d, "$TMP/np1/metrics.csv" "$TMP/np4/metrics.csv" | awk -F, '
        NR == 1 { for (i = 1; i <= NF / 2; i++) if ($i == "train_loss") c = i; next }
        { a = $c; b = $(c + NF / 2); d = a - b; if (d < 0) d = -d
          if (d > 1e-5 * a) bad = 1; n++ }
        END { exit !(n == 15 && !bad) }'
}
check "full-batch GD: np=1 and np=4 loss trajectories agree within 1e-5 relative" same_trajectory
falls() { gt "$(awk -F, 'NR==2{print $5}' "$TMP/np4/metrics.csv")" "$(csv_last train_loss "$TMP/np4/metrics.csv")"; }
check "full-batch GD: the loss falls" falls

# Uneven shards (1003 rows over 3 ranks, batch 64): every row is used once per epoch.
mpi 3 "$TMP/full.cfg" --set train.batch_size=64 --set train.epochs=2 --set output.dir="$TMP/np3"
samples_once() { [ "$(csv_last samples "$TMP/np3/metrics.csv")" = 2006 ]; }
check "uneven shards at np=3: each epoch uses every row once (2 x 1003 samples)" samples_once

# The checkpoint state engine (gdmpi/state.h): round trip of every scope, the file layout,
# records, a lone save by rank 0, load errors naming the dataset, and ranks that disagree.
for np in 1 2 3 4; do
    mpitest $np "$BUILD/tests/mpi_state" "$TMP"
done

# Every row is used exactly once per epoch, at np = 2 and 3 (240 rows: whole batches), shuffled: a
# linreg on one-hot rows (row i is e_i, target 1) moves weight i only when row i is in a
# batch. After one epoch of small SGD steps every weight has moved (no row skipped), and by
# about the same amount (a row taken twice would move its weight about twice as far; the
# bias, which every row moves, grows only to 0.2 or so, so single uses differ by < 1.4x).
$PY - "$TMP/onehot.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["X"] = np.eye(240, dtype=np.float32)
    f["y"] = np.ones(240, dtype=np.float32)
PYEOF
cfg onehot - data.train="$TMP/onehot.h5" model.type=linreg optimizer.lr=0.01 train.epochs=1 \
    train.batch_size=10
once_each() {
    $PY - "$TMP/$1/model.h5" <<'PYEOF'
import sys, h5py, numpy as np
w = h5py.File(sys.argv[1], "r")["params"][...][:240]
ok = w.min() > 0 and w.max() / w.min() < 1.4
sys.exit(0 if ok else print("# weights min %g max %g" % (w.min(), w.max())) or 1)
PYEOF
}
for np in 2 3; do
    mpi $np "$TMP/onehot.cfg" --set output.dir="$TMP/onehot$np"
    check "np=$np: one shuffled epoch uses every row exactly once (one-hot linreg)" once_each onehot$np
done
