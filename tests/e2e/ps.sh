# End-to-end: configs/architectures/, the same generated problem under allreduce, ps and
# ps-async: each learns it, writes the same outputs, and the model it writes reads back.
. tests/lib.sh
PY=/usr/bin/python3
DIR=configs/architectures

# The data the configs' header says to make (fewer rows: a test, not a study).
fixture arch softmax rows=6000 features=20 classes=5 noise=0.1 seed=7 val_rows=1000

only_parallel_differs() {
    for mode in ps ps-async; do
        diff "$DIR/allreduce.cfg" "$DIR/$mode.cfg" | grep '^[<>]' | sed 's/^[<>] //' |
            grep -v '^#' | grep -qvE '^(mode|servers|fetch_every|push_every|staleness|staleness_lr) =' &&
            return 1
    done
    return 0
}
check "configs/architectures/: the files differ only in [parallel]" only_parallel_differs

for mode in allreduce ps ps-async; do
    mpi 3 "$DIR/$mode.cfg" --set data.train="$TMP/arch.h5" --set data.val="$TMP/arch-val.h5" \
        --set train.epochs=3 --set output.dir="$TMP/$mode"
    check "$DIR/$mode.cfg at np=3 exits 0" [ $? -eq 0 ]
    acc=$(csv_last val_acc "$TMP/$mode/metrics.csv" 2>/dev/null)
    check "$mode reaches > 0.9 validation accuracy (got ${acc:-none})" gt "${acc:-0}" 0.9
    timeout 60 "$GDMPI" eval --model "$TMP/$mode/model.h5" --data "$TMP/arch-val.h5" >"$TMP/eval-$mode" 2>&1
    check "gdmpi eval reads the $mode model back (accuracy > 0.9)" \
        gt "$(awk '/^accuracy/{print $2}' "$TMP/eval-$mode")" 0.9
done

outputs_agree() {
    $PY - "$TMP" <<'PYEOF'
import sys, csv, json
d = sys.argv[1]
heads = {m: open(f"{d}/{m}/metrics.csv").readline() for m in ("allreduce", "ps", "ps-async")}
assert len(set(heads.values())) == 1, heads
for m in ("allreduce", "ps", "ps-async"):
    rows = list(csv.DictReader(open(f"{d}/{m}/metrics.csv")))
    assert len(rows) == 3 and rows[-1]["epoch"] == "3", (m, rows[-1])
    s = json.load(open(f"{d}/{m}/summary.json"))
    assert s["status"] == "ok" and s["mode"] == m, (m, s["status"])
    assert ("ps" in s) == (m != "allreduce"), m
    if m != "allreduce":
        p = s["ps"]
        assert p["servers"] == 1 and p["workers"] == 2 and p["conservation"]["ok"], p
        assert [r["rows"] for r in s["ranks"]] == [0, 3000, 3000], s["ranks"]
PYEOF
}
check "metrics.csv has the same columns in every mode; summary.json's ps member is there" outputs_agree

# ps counts its bytes exactly: each step a worker pushes its gradient to each server and
# reads back that server's slice (one message each way, a 64-byte header and the slice's
# floats); server j receives the W pushes of its slice and sends the W replies. metrics.csv
# holds server 0's (its rows are rank 0's). np=3 with one server, np=4 with two (slices of
# ceil and floor n/2).
ps_bytes() {
    $PY - "$TMP/$1" <<'PYEOF'
import sys, csv, json
d = sys.argv[1]
s = json.load(open(d + "/summary.json"))
S, W, n = s["ps"]["servers"], s["ps"]["workers"], s["model"]["parameters"]
lens = [n // S + (1 if j < n % S else 0) for j in range(S)]
steps, epochs = s["steps_per_epoch"], s["final"]["epoch"]
want = [W * (64 + 4 * l) for l in lens] + [64 * S + 4 * n] * W  # a step, each way
rows = list(csv.DictReader(open(d + "/metrics.csv")))
assert all(float(r["bytes_sent"]) == float(r["bytes_recv"]) == steps * want[0] for r in rows), rows
got = [(r["bytes_sent"], r["bytes_recv"]) for r in s["ranks"]]
assert got == [(epochs * steps * w, epochs * steps * w) for w in want], (got, want, steps)
PYEOF
}
check "ps at np=3: server 0 sends and receives 2 x (64 + 4n) bytes a step, each worker half" ps_bytes ps
mpi 4 "$DIR/ps.cfg" --set data.train="$TMP/arch.h5" --set data.val="$TMP/arch-val.h5" \
    --set train.epochs=1 --set parallel.servers=2 --set output.dir="$TMP/ps2"
check "ps at np=4 with two servers: each server its slice's bytes, each worker both" ps_bytes ps2

# --- downpour as published vs averaged pushes (Dean et al. 2012, Algorithm 1) --------------
# One worker, push and fetch every k steps: downpour's server applies exactly the k local
# SGD steps the worker took, so it is plain SGD (allreduce at np=1) to float rounding for
# any k; averaged pushes are plain SGD only at k = 1 (a push of k steps is one mean step).
fixture dp softmax rows=1024 features=8 classes=3 noise=0.5 seed=4 val_rows=200
cfg dp dp model.type=softmax optimizer.type=sgd optimizer.lr=0.05 train.epochs=3 train.batch_size=32
mpi 1 "$TMP/dp.cfg" --set output.dir="$TMP/dp-sgd"
for mode in downpour ps-async; do
    for k in 1 4; do
        mpi 2 "$TMP/dp.cfg" --set parallel.mode=$mode --set parallel.push_every=$k \
            --set parallel.fetch_every=$k --set output.dir="$TMP/dp-$mode-$k"
        check "$mode, one worker, push and fetch every $k: exits 0" [ $? -eq 0 ]
    done
done
# max |w - w_sgd| of DIR's model.h5
off_sgd() {
    $PY - "$TMP/dp-sgd/model.h5" "$TMP/$1/model.h5" <<'PYEOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["params"][...] for p in sys.argv[1:3])
print(float(np.abs(a - b).max()))
PYEOF
}
for k in 1 4; do
    d=$(off_sgd dp-downpour-$k)
    check "downpour, k = $k: plain SGD to float rounding (max diff ${d:-none} < 1e-5)" gt 1e-5 "${d:-1}"
done
d=$(off_sgd dp-ps-async-1)
check "averaged pushes, k = 1: plain SGD too (max diff ${d:-none} < 1e-5)" gt 1e-5 "${d:-1}"
d=$(off_sgd dp-ps-async-4)
check "averaged pushes, k = 4: not plain SGD (max diff ${d:-none} > 0.01)" gt "${d:-0}" 0.01
mpi 3 "$TMP/dp.cfg" --set parallel.mode=downpour --set parallel.push_every=3 \
    --set parallel.fetch_every=2 --set output.dir="$TMP/dp-two"
conserved() { grep -q '"conservation": {"ok": true' "$TMP/dp-two/summary.json"; }
check "downpour, two workers, push 3 fetch 2: exits 0, every accrued gradient applied" \
    sh -c "[ $? -eq 0 ]" 
check "... conservation holds" conserved
mpi 2 "$TMP/dp.cfg" --set parallel.mode=downpour --set parallel.staleness=1
check "downpour with a staleness bound: status 2 naming it" \
    sh -c "[ $? -eq 2 ] && grep -q 'parallel.staleness = 1: downpour never waits' '$TMP/out'"
