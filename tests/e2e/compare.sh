# End-to-end: scripts/compare on two tiny generated runs (one given as a config, which it
# trains first, one as a run directory) writes its PNGs and the table; a staleness
# histogram in summary.json's "ps" member gives staleness.png; missing members are blanks.
. tests/lib.sh
PY=/usr/bin/python3

fixture sm softmax rows=1000 features=8 classes=3 noise=0.1 seed=7 val_rows=300
cfg sgd sm train.epochs=3 train.batch_size=32
mpi 2 "$TMP/sgd.cfg" --set optimizer.type=adam --set output.dir="$TMP/adam"
check "the adam run exits 0" [ $? -eq 0 ]

is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -c | tr -d ' ')" = '211PNG\r\n032\n' ]; }
pngs_ok() {
    for f in vs_epoch vs_wall vs_samples throughput; do
        is_png "$1/$2$f.png" || { echo "$1/$2$f.png: missing or not a PNG"; return 1; }
    done
}
# rows_ok TABLE N: a markdown table with the header, the rule and N runs.
rows_ok() { [ "$(grep -c '^| ' "$1")" -eq $(($2 + 1)) ] && grep -q '^| run | mode ' "$1"; }

GDMPI="$GDMPI" timeout 60 "$PY" scripts/compare -o "$TMP/cmp" --np 2 "$TMP/sgd.cfg" \
    "$TMP/adam" >"$TMP/table" 2>"$TMP/err"
check "compare of a config and a run directory exits 0" [ $? -eq 0 ]
check "it trained the config into its own runs/ folder" [ -s "$TMP/cmp/runs/sgd/metrics.csv" ]
check "it wrote the four PNGs" pngs_ok "$TMP/cmp" ""
check "table.md has both runs" rows_ok "$TMP/cmp/table.md" 2
check "the table is also printed" cmp -s "$TMP/table" "$TMP/cmp/table.md"
check "compare.md links the images" grep -q '(vs_epoch.png)' "$TMP/cmp/compare.md"
check "no staleness.png without async runs" [ ! -e "$TMP/cmp/staleness.png" ]
check "the adam row has its accuracy" grep -Eq '^\| adam \| allreduce \| 2 \| 3 \| [0-9]+ \| [0-9.]+ \| [0-9.]+ \| 0\.[0-9]+ ' "$TMP/cmp/table.md"

# An async-like run: a staleness histogram under "ps", and no "ranks" member at all.
cp -r "$TMP/adam" "$TMP/async"
"$PY" - "$TMP/async/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["ps"] = {"staleness": {"histogram": [50, 30, 15, 5], "mean": 0.75, "max": 3}}
del s["ranks"]
json.dump(s, open(sys.argv[1], "w"))
PY
"$PY" scripts/compare -o "$TMP/cmp2" --prefix x- --title "two runs" "sync=$TMP/adam" \
    "async=$TMP/async" >/dev/null 2>"$TMP/err"
check "compare with a staleness histogram and a missing member exits 0" [ $? -eq 0 ]
check "it wrote the PNGs with the prefix" pngs_ok "$TMP/cmp2" x-
check "it wrote staleness.png" is_png "$TMP/cmp2/x-staleness.png"
check "the async row shows staleness mean / max" grep -q '^| async .* 0.75 / 3 |' "$TMP/cmp2/x-table.md"
check "the labels name the rows" grep -q '^| sync |' "$TMP/cmp2/x-table.md"

"$PY" scripts/compare -o "$TMP/cmp3" "$TMP/nowhere" >/dev/null 2>"$TMP/err"
check "a path without metrics.csv is an error naming it" grep -q "nowhere: no metrics.csv" "$TMP/err"
