#!/bin/sh
# make bench: softmax regression on Fashion-MNIST at np=1 and np=2 against the bare
# cblas_sgemm time of the same epoch (the compute roofline). Prints a table and writes
# bench.json. Figures are measurements, never assertions.
set -eu
BUILD=${BUILD:-build}
GDMPI=${GDMPI:-./gdmpi}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EPOCHS=${EPOCHS:-5}
OUT=$(mktemp -d /tmp/gdmpi-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
ROWS=60000 FEATURES=784 CLASSES=10 BATCH=64

# train.s per epoch on rank 0: compute + communication + wait, without evaluation or I/O.
epoch_s() {
    /usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1])); r = s["ranks"][0]; e = s["final"]["epoch"]
print("%.6f %.1f" % ((r["compute_s"] + r["comm_s"] + r["wait_s"]) / e,
                     s["final"]["samples"] / s["ranks_total"] / (r["compute_s"] + r["comm_s"] + r["wait_s"])))' "$1"
}

run() { # run NP: trains run.cfg without validation, quietly
    mpirun --oversubscribe -np "$1" "$GDMPI" run.cfg --set data.val= --set train.epochs="$EPOCHS" \
        --set output.dir="$OUT/np$1" >/dev/null
}

run 1
run 2
set -- $(epoch_s "$OUT/np1/summary.json")
e1=$1 sps1=$2
set -- $(epoch_s "$OUT/np2/summary.json")
e2=$1 sps2=$2
g1=$("$BUILD/bench/gemm_roofline" $ROWS $FEATURES $CLASSES $BATCH)
g2=$("$BUILD/bench/gemm_roofline" $((ROWS / 2)) $FEATURES $CLASSES $BATCH)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
printf '%-34s %12s %12s\n' "softmax on Fashion-MNIST (batch 64)" "np=1" "np=2"
printf '%-34s %12s %12s\n' "epoch time, s (rank 0)" "$e1" "$e2"
printf '%-34s %12s %12s\n' "samples/s per rank" "$sps1" "$sps2"
printf '%-34s %12s %12s\n' "bare sgemm time of the epoch, s" "$g1" "$g2"
printf '%-34s %12s %12s\n' "epoch / bare sgemm (target <= 1.5)" "$(ratio "$e1" "$g1")" "$(ratio "$e2" "$g2")"
printf '%-34s %12s\n' "speedup np=2 over np=1" "$(ratio "$e1" "$e2")"
cat >bench.json <<JSON
{
  "machine": "$(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')",
  "softmax_fmnist": {
    "batch": $BATCH, "epochs": $EPOCHS,
    "np1": {"epoch_s": $e1, "samples_per_s_per_rank": $sps1, "bare_gemm_s": $g1, "ratio": $(ratio "$e1" "$g1")},
    "np2": {"epoch_s": $e2, "samples_per_s_per_rank": $sps2, "bare_gemm_s": $g2, "ratio": $(ratio "$e2" "$g2")},
    "speedup_np2": $(ratio "$e1" "$e2")
  }
}
JSON
echo "wrote bench.json"
