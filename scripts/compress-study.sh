#!/bin/sh
# The compression study (a section of `make study`, or alone): allreduce at NP ranks on
# RATE-shaped namespace hosts (scripts/slow-network.sh), the mlp of configs/fmnist-mlp.cfg
# on the first ROWS rows of Fashion-MNIST (short epochs, so that the time to the target is
# measured every few seconds), once per compressor: wall time to a validation loss of
# TARGET, the bytes each rank sent, the compression ratio and the accuracy reached.
# Writes $OUT/section-4-compression.md (and the runs into $OUT/runs/compress-*).
#
# Environment: GDMPI (./gdmpi), OUT (runs/study), RATE (100mbit), NP (3), SECS (seconds a
# run: 25), ROWS (12000), TARGET (0.65), SPECS (the runs: "label:key=value,...").
set -u
cd "$(dirname "$0")/.." || exit 2
GDMPI=${GDMPI:-./gdmpi}
OUT=${OUT:-runs/study}
RATE=${RATE:-100mbit}
NP=${NP:-3}
SECS=${SECS:-25}
ROWS=${ROWS:-12000}
TARGET=${TARGET:-0.65}
SPECS=${SPECS:-"none: fp16:parallel.compress=fp16
topk-1%-ef:parallel.compress=topk,parallel.compress_ratio=0.01
topk-1%-no-ef:parallel.compress=topk,parallel.compress_ratio=0.01,parallel.error_feedback=false
topk-1%-dgc:parallel.compress=topk,parallel.compress_ratio=0.01,parallel.momentum_correction=0.9,optimizer.type=sgd
qsgd-4bit:parallel.compress=qsgd,parallel.qsgd_levels=7 sign-ef:parallel.compress=sign
powersgd-r4:parallel.compress=powersgd,parallel.powersgd_rank=4"}
PY=/usr/bin/python3
SECTION=$OUT/section-4-compression.md
mkdir -p "$OUT/runs"
LOG=$OUT/compress-study.log
: >"$LOG"

heading() {
    echo "## Compression under a $RATE network"
    echo
}

if [ "$(id -u)" -ne 0 ]; then
    { heading; echo "Skipped: scripts/slow-network.sh needs root (network namespaces, tc)."; echo; } >"$SECTION"
    exit 0
fi

subset=$OUT/fmnist-train-$ROWS.h5
"$PY" - data/fmnist-train.h5 "$subset" "$ROWS" <<'PY' >>"$LOG" 2>&1
import sys, h5py
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "w") as g:
    n = int(sys.argv[3])
    g["X"], g["y"] = f["X"][:n], f["y"][:n]
PY

labels=""
for spec in $SPECS; do
    label=${spec%%:*}
    sets=""
    for kv in $(echo "${spec#*:}" | tr , ' '); do sets="$sets --set $kv"; done
    echo "study: compress-$label (np=$NP on $RATE)"
    # shellcheck disable=SC2086
    if ! GDMPI=$GDMPI GDC_TIMEOUT=$((3 * SECS + 60)) scripts/slow-network.sh --rate "$RATE" \
        --hosts "$NP" configs/fmnist-mlp.cfg --set data.train="$(realpath "$subset")" \
        --set data.val="$(realpath data/fmnist-test.h5)" --set train.epochs=50 \
        --set train.max_seconds="$SECS" --set output.overwrite=true \
        --set output.dir="$(realpath "$OUT/runs")/compress-$label" $sets >>"$LOG" 2>&1; then
        echo "study: compress-$label failed (see $LOG)"
    fi
    labels="$labels $label"
done

{
    heading
    echo "Allreduce at np=$NP, one rank per namespace host, every data link shaped to $RATE"
    echo "each way with tc tbf (\`scripts/slow-network.sh\`); the mlp of"
    echo "\`configs/fmnist-mlp.cfg\` on the first $ROWS rows of Fashion-MNIST, $SECS s a run."
    echo "*Time to target*: the wall time of the first epoch whose validation loss is at most"
    echo "$TARGET. *Bytes*: what rank 0's exchanges sent over the run, as encoded; *ratio*:"
    echo "what a float32 allreduce would have sent over that."
    echo
    # shellcheck disable=SC2086
    "$PY" - "$OUT/runs" "$TARGET" $labels <<'PY'
import csv, json, os, sys
root, target, labels = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
print("| run | time to target (s) | vs none | epochs in budget | final val acc | MB sent | ratio |")
print("|---|---|---|---|---|---|---|")
base = None
for l in labels:
    d = os.path.join(root, "compress-" + l)
    try:
        rows = list(csv.DictReader(open(os.path.join(d, "metrics.csv"))))
        c = json.load(open(os.path.join(d, "summary.json")))["compress"]
    except (OSError, ValueError, KeyError):
        print("| %s | failed | | | | | |" % l)
        continue
    hit = next((float(r["wall_s"]) for r in rows if r["val_loss"] and float(r["val_loss"]) <= target), None)
    if l == "none":
        base = hit
    speed = "%.2fx" % (base / hit) if base and hit else ""
    print("| %s | %s | %s | %d | %s | %.1f | %s |" % (
        l, "%.1f" % hit if hit else "not reached", speed, len(rows),
        rows[-1]["val_acc"] if rows else "", c["bytes_sent"] / 1e6,
        "%.1f" % c["ratio"] if c["ratio"] else ""))
print()
PY
} >"$SECTION"
cat "$SECTION"
