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
