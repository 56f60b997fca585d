# data.shuffle = global: the workers' rows redistributed by a permutation of the whole data
# set (docs/data.md). Every row is used exactly once per epoch (full-batch GD gives the same
# model whichever rank holds which row); on a file sorted by label, local-sgd's workers
# become IID and learn what contiguous shards cannot; a run resumed in mid-epoch holds the
# same rows in the same order (bit for bit); an asynchronous mode redistributes once.
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh
PY=/usr/bin/python3

fixture mix softmax rows=1500 features=6 classes=3 noise=0.3 seed=11 val_rows=300
# A copy sorted by label: with contiguous shards at np=2, rank 0 holds classes 0 and 1,
# rank 1 classes 1 and 2.
$PY - "$TMP/mix.h5" "$TMP/sorted.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    X, y = f["X"][...], f["y"][...]
o = np.argsort(y, kind="stable")
with h5py.File(sys.argv[2], "w") as g:
    g["X"], g["y"] = X[o], y[o]
PYEOF

# --- gdmpi data info tells a label-sorted file from a shuffled one ------------------------
"$GDMPI" data info "$TMP/sorted.h5" >"$TMP/info-sorted" 2>&1
"$GDMPI" data info "$TMP/mix.h5" >"$TMP/info-mix" 2>&1
check "data info warns that the sorted file's labels are sorted (non-IID shards)" \
    grep -q "warning: the labels are sorted in file order.*data.shuffle = global" "$TMP/info-sorted"
check "... and says nothing of the kind for the generated (shuffled) file" \
    sh -c "! grep -q warning '$TMP/info-mix'"

# --- every row exactly once: full batch at np=3 equals np=1 (float rounding) -------------
cfg full mix model.type=softmax optimizer.lr=0.5 train.epochs=5 train.batch_size=full data.shuffle=global
mpi 1 "$TMP/full.cfg" --set output.dir="$TMP/full1" --set data.shuffle=rank
mpi 3 "$TMP/full.cfg" --set output.dir="$TMP/full3"
check "full-batch GD, global shuffle at np=3: exits 0" [ $? -eq 0 ]
close_models() {
    $PY - "$TMP/$1/model.h5" "$TMP/$2/model.h5" <<'PYEOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["params"][...] for p in sys.argv[1:3])
d = float(np.abs(a - b).max())
sys.exit(0 if d < 1e-5 else print("# max difference", d) or 1)
PYEOF
}
check "... the same model as np=1 without it (every row once per epoch, 1e-5)" close_models full1 full3

# --- IID workers on a sorted file (local-sgd, averaging only at the end) ------------------
cfg lsgd - model.type=softmax data.train="$TMP/sorted.h5" data.val="$TMP/mix-val.h5" \
    optimizer.lr=0.2 train.epochs=4 train.batch_size=16 parallel.mode=local-sgd \
    parallel.average_every=1000000
mpi 2 "$TMP/lsgd.cfg" --set output.dir="$TMP/lsgd-rank"
mpi 2 "$TMP/lsgd.cfg" --set output.dir="$TMP/lsgd-global" --set data.shuffle=global
acc_rank=$(csv_last val_acc "$TMP/lsgd-rank/metrics.csv")
acc_global=$(csv_last val_acc "$TMP/lsgd-global/metrics.csv")
check "sorted file, local-sgd at np=2: global shuffle ${acc_global:-none} > 0.85" gt "${acc_global:-0}" 0.85
check "... contiguous shards ${acc_rank:-none} at least 0.05 below it" \
    gt "$(awk -v a="${acc_global:-0}" 'BEGIN{print a - 0.05}')" "${acc_rank:-1}"

# --- resumed in mid-epoch: the same rows, the same order, the same model ------------------
cfg res mix model.type=softmax optimizer.type=momentum optimizer.lr=0.05 train.epochs=3 \
    train.batch_size=16 data.shuffle=global
mpi 2 "$TMP/res.cfg" --set output.dir="$TMP/res-full"
GDMPI_FAULT=checkpoint-write:3 mpi 2 "$TMP/res.cfg" --set output.dir="$TMP/res-cut" \
    --set output.checkpoint_every=20s
check "global shuffle: rank 0 killed while writing the 3rd checkpoint ends the job" [ $? -ne 0 ]
mpi 2 "$TMP/res.cfg" --set output.dir="$TMP/res-cut" --set output.checkpoint_every=20s \
    --set train.resume=auto
check "... resumed from the 2nd (mid-epoch), it exits 0" [ $? -eq 0 ]
check "... model.h5 bit for bit the uninterrupted run's" same_model "$TMP/res-full" "$TMP/res-cut"

# --- asynchronous: once, at the start -------------------------------------------------------
mpi 3 "$TMP/res.cfg" --set output.dir="$TMP/async" --set parallel.mode=ps-async
conserved() { grep -q '"conservation": {"ok": true' "$TMP/async/summary.json"; }
check "ps-async with a global shuffle: exits 0, every pushed gradient applied" conserved
mpi 2 "$TMP/res.cfg" --set output.dir="$TMP/bad" --set data.shuffle=everywhere
check "data.shuffle = everywhere: status 2 naming the key" \
    sh -c "[ $? -eq 2 ] && grep -q 'data.shuffle' '$TMP/out'"

# --- data.partition = label-skew: non-IID workers on purpose ------------------------------
# split_of DIR: the printed split, one "worker w: n0 n1 n2" line each.
cfg skew mix model.type=softmax optimizer.lr=0.5 train.epochs=2 train.batch_size=full \
    data.partition=label-skew
mpi 3 "$TMP/skew.cfg" --set output.dir="$TMP/skew-low" --set data.partition_alpha=0.1
grep '^  worker' "$TMP/out" >"$TMP/split-low"
mpi 3 "$TMP/skew.cfg" --set output.dir="$TMP/skew-high" --set data.partition_alpha=100
grep '^  worker' "$TMP/out" >"$TMP/split-high"
split_ok() { # every class's rows accounted for (291, 634, 575), the shards as printed
    $PY - "$1" "$TMP/$2/summary.json" "$3" <<'PYEOF'
import sys, json
rows = [list(map(int, l.split(":")[1].split())) for l in open(sys.argv[1])]
totals = [sum(r[c] for r in rows) for c in range(3)]
shards = [r["rows"] for r in json.load(open(sys.argv[2]))["ranks"]]
assert totals == [291, 634, 575] and shards == [sum(r) for r in rows], (totals, shards)
if sys.argv[3] == "skewed":  # some worker lacks a class entirely
    assert any(v == 0 for r in rows for v in r), rows
else:  # every worker holds every class, within 25% of an even share
    assert all(abs(r[c] - totals[c] / 3) < 0.25 * totals[c] / 3 for r in rows for c in range(3)), rows
PYEOF
}
check "label-skew, alpha 0.1 at np=3: every row placed once, some worker lacks a class" \
    split_ok "$TMP/split-low" skew-low skewed
check "label-skew, alpha 100: every worker holds about a third of every class" \
    split_ok "$TMP/split-high" skew-high even
mpi 3 "$TMP/full.cfg" --set output.dir="$TMP/skew-full" --set data.shuffle=rank \
    --set data.partition=label-skew --set data.partition_alpha=0.1
check "... full-batch GD on the skewed shards: the same model as np=1 (every row once, 1e-5)" \
    close_models full1 skew-full
mpi 2 "$TMP/skew.cfg" --set output.dir="$TMP/bad" --set data.shuffle=global
check "label-skew with data.shuffle = global: status 2 naming both" \
    sh -c "[ $? -eq 2 ] && grep -q 'label-skew and data.shuffle = global' '$TMP/out'"
fixture reg linreg rows=300 features=3 seed=2
cfg regskew reg model.type=linreg data.partition=label-skew train.epochs=1
mpi 2 "$TMP/regskew.cfg" --set output.dir="$TMP/bad"
check "label-skew on real-valued targets: refused, naming the file and the row" \
    sh -c "[ $? -ne 0 ] && grep -q 'reg.h5: data.partition = label-skew needs integer class labels; row' '$TMP/out'"
