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

# --seeds 2 with one config at its own rank count (RUN@3): two trainings (train.seed = 1
# and 2) that are one mean curve and one table row; --format svg, steps.csv as vs_step.
GDMPI="$GDMPI" timeout 90 "$PY" scripts/compare -o "$TMP/cmp4" --np 2 --seeds 2 --format svg \
    --dpi 50 --set output.log_every=5 "$TMP/sgd.cfg@3" >/dev/null 2>"$TMP/err"
check "compare --seeds 2 --format svg exits 0" [ $? -eq 0 ]
check "... it trained seed 1 and seed 2" grep -q '"seed": "2"' "$TMP/cmp4/runs/sgd-seed2/summary.json"
check "... at the run's own rank count (sgd.cfg@3)" grep -q '"ranks_total": 3' "$TMP/cmp4/runs/sgd-seed1/summary.json"
check "... the seeds are one table row, named with their count" rows_ok "$TMP/cmp4/table.md" 1
check "... the row is 'sgd (2 seeds)' at 3 ranks" grep -q '^| sgd (2 seeds) | allreduce | 3 |' "$TMP/cmp4/table.md"
# The row's final val loss is the mean of the two seeds' final val loss.
mean_ok() {
    "$PY" - "$TMP/cmp4" <<'PY'
import csv, sys
d = sys.argv[1]
last = lambda p: float(list(csv.DictReader(open(p)))[-1]["val_loss"])
want = (last(d + "/runs/sgd-seed1/metrics.csv") + last(d + "/runs/sgd-seed2/metrics.csv")) / 2
row = [c.strip() for c in open(d + "/table.md").read().splitlines()[2].split("|")]
sys.exit(0 if abs(float(row[7]) - want) < 1e-4 else print(row[7], want) or 1)
PY
}
check "... whose val loss is the mean of the two seeds'" mean_ok
is_svg() { [ -s "$1" ] && grep -q '<svg' "$1"; }
check "... the images are SVG (vs_epoch.svg)" is_svg "$TMP/cmp4/vs_epoch.svg"
check "... with the seeds' band drawn (a filled path)" grep -q 'fill-opacity' "$TMP/cmp4/vs_epoch.svg"
check "... steps.csv gives vs_step.svg" is_svg "$TMP/cmp4/vs_step.svg"
check "... compare.md links the SVGs" grep -q '(vs_step.svg)' "$TMP/cmp4/compare.md"
# Forty runs: no two share both colour and line style.
styles_ok() {
    "$PY" - <<'PY'
import importlib.machinery, importlib.util, sys
loader = importlib.machinery.SourceFileLoader("compare", "scripts/compare")
spec = importlib.util.spec_from_loader("compare", loader)
m = importlib.util.module_from_spec(spec)
loader.exec_module(m)
pairs = {(m.style(i)["color"], m.style(i)["linestyle"]) for i in range(40)}
triples = {tuple(sorted(m.style(i).items())) for i in range(200)}
sys.exit(0 if len(pairs) == 40 and len(triples) == 200 else 1)
PY
}
check "run styles: colour and line style never repeat within 40 runs, all three within 200" styles_ok
"$PY" scripts/compare --format gif "$TMP/adam" >/dev/null 2>"$TMP/err"
check "an unknown --format is refused naming the choices" grep -q "invalid choice: 'gif'" "$TMP/err"
