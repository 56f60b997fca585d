#!/bin/sh
# make bench: measurements taken side by side in one run, printed as tables and written
# to bench.json. Figures are measurements, never assertions: targets are printed beside
# them. Each section is one function that prints its table and leaves its part of
# bench.json in "$OUT/part-NAME.json" (one JSON object); merge_parts writes bench.json
# from the machine description and every part. A new section is a new function and one
# call at the bottom.
set -eu
BUILD=${BUILD:-build}
GDMPI=${GDMPI:-./gdmpi}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
REPEATS=${REPEATS:-3}          # repeats of each gdmpi case; the best one counts
SOFTMAX_EPOCHS=${SOFTMAX_EPOCHS:-20}
MLP_EPOCHS=${MLP_EPOCHS:-2}
PY=/usr/bin/python3
OUT=$(mktemp -d /tmp/gdmpi-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
ROWS=60000 BATCH=64
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)

machine() {
    printf '%s cores (%s), %s, %s MiB L2 per core, %s' "$(nproc)" "$(uname -m)" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
        "$(lscpu -B 2>/dev/null | awk '/^L2 cache/ {printf "%.0f", $3 / 1048576 / '"$(nproc)"'}')" \
        "$(lscpu 2>/dev/null | awk -F': *' '/Hypervisor vendor/ {print $2 " virtual machine"}')"
}

# run NAME NP CONFIG [--set ...]: trains quietly into $OUT/NAME, without validation.
run() {
    name=$1 np=$2 cfg=$3
    shift 3
    mpirun --oversubscribe -np "$np" "$GDMPI" "$cfg" --set data.val= \
        --set output.dir="$OUT/$name" --set output.overwrite=true "$@" >/dev/null
}

# repeat NAME NP CONFIG [--set ...]: REPEATS runs into $OUT/runs/NAME-1, NAME-2, ...
repeat() {
    rep_name=$1 # not "name": run sets that one (sh has no locals)
    shift
    rep_i=1
    while [ "$rep_i" -le "$REPEATS" ]; do
        run "runs/$rep_name-$rep_i" "$@"
        rep_i=$((rep_i + 1))
    done
}

# ---- (a)-(d): the compute, communication and memory rooflines ---------------------------
# (a) bare cblas_sgemm epoch vs gdmpi epoch, softmax and mlp, np=1; (b) speedup at np=2
# with the same per-rank batch; (c) comm per step vs a bare MPI_Allreduce of the same
# floats; (d) peak RSS per rank vs shard + 4 x parameters + 40 MiB.
roofline_section() {
    sm="configs/fmnist-softmax.cfg --set train.epochs=$SOFTMAX_EPOCHS"
    mlp="configs/fmnist-mlp.cfg --set train.epochs=$MLP_EPOCHS"
    # shellcheck disable=SC2086
    {
        repeat softmax-np1 1 $sm
        repeat softmax-seq-np1 1 $sm --set train.shuffle=false
        repeat softmax-np2 2 $sm --set output.trace=true --set output.trace_steps=2000
        repeat mlp-np1 1 $mlp --set parallel.overlap=true
        repeat mlp-nooverlap-np1 1 $mlp --set parallel.overlap=false
        repeat mlp-np2 2 $mlp --set parallel.overlap=true
        repeat mlp-nooverlap-np2 2 $mlp --set parallel.overlap=false --set output.trace=true \
            --set output.trace_steps=2000
    }
    set -- $("$BUILD/bench/gemm_roofline" $ROWS $BATCH 784,10 5)
    gs=$1
    set -- $("$BUILD/bench/gemm_roofline" $ROWS $BATCH 784,256,128,10 3)
    gm=$1
    # parameters + the loss and count sums: what one allreduce step reduces
    floats() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"]["parameters"] + 2)' "$1"; }
    set -- $(mpirun --oversubscribe -np 2 "$BUILD/bench/allreduce_bench" \
        "$(floats "$OUT/runs/softmax-np2-1/summary.json")" 2000)
    as=$1 asm=$2 rss=$3
    set -- $(mpirun --oversubscribe -np 2 "$BUILD/bench/allreduce_bench" \
        "$(floats "$OUT/runs/mlp-np2-1/summary.json")" 500)
    am=$1 amm=$2
    printf '{"gemm_softmax_s": %s, "gemm_mlp_s": %s, "allreduce_softmax_s": %s, "allreduce_mlp_s": %s,
 "allreduce_softmax_median_s": %s, "allreduce_mlp_median_s": %s, "baseline_rss_mb": %s}\n' \
        "$gs" "$gm" "$as" "$am" "$asm" "$amm" "$rss" >"$OUT/bare.json"
    echo "Rooflines: Fashion-MNIST, $ROWS rows, batch $BATCH per rank; softmax $SOFTMAX_EPOCHS epochs, mlp 784-256-128-10 $MLP_EPOCHS epochs; best of $REPEATS runs"
    $PY tests/bench/roofline.py "$OUT/runs" "$OUT/bare.json" "$OUT/part-roofline.json"
    echo "an MPI process that does nothing: $rss MiB peak RSS"
}

# ---- cnn: configs/fmnist-cnn.cfg (LeNet-5) against the bare sgemm time of its GEMMs ------
# One epoch at np=1, best of REPEATS, against gemm_roofline on the same GEMM shapes: each
# conv's im2col rows (output pixels x kernel x input channels) and each fc layer, forward,
# dW and dA (no dA for the first layer). The difference is im2col, col2im, the pools, the
# activations, the loss and the optimizer step.
CNN_EPOCHS=${CNN_EPOCHS:-1}
CNN_GEMMS=784x25x6,100x150x16,1x400x120,1x120x84,1x84x10
cnn_section() {
    repeat cnn-np1 1 configs/fmnist-cnn.cfg --set train.epochs="$CNN_EPOCHS"
    set -- $("$BUILD/bench/gemm_roofline" $ROWS $BATCH $CNN_GEMMS 3)
    $PY - "$OUT/runs" "$REPEATS" "$1" "$2" "$CNN_EPOCHS" "$OUT/part-cnn.json" <<'PY'
import json, sys
runs, repeats, gemm_s, gflops, epochs, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \
    float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
def epoch_s(i):  # the rank's busy time per epoch, as the roofline table counts it
    s = json.load(open(f"{runs}/cnn-np1-{i}/summary.json"))
    r = s["ranks"][0]
    return (r["compute_s"] + r["comm_s"] + r["wait_s"]) / s["final"]["epoch"]
best = min(epoch_s(i) for i in range(1, repeats + 1))
print("CNN: configs/fmnist-cnn.cfg (LeNet-5, 61706 parameters), 60000 rows, batch 64, np=1; "
      f"best of {repeats}")
print("%-28s %10s %10s %8s" % ("", "epoch s", "sgemm s", "ratio"))
print("%-28s %10.3f %10.3f %7.2fx" % ("cnn epoch / its GEMMs", best, gemm_s, best / gemm_s))
print(f"the bare GEMMs reach {gflops:.1f} GFLOP/s")
json.dump({"cnn": {"epoch_s": round(best, 4), "gemm_s": gemm_s, "ratio": round(best / gemm_s, 3),
                   "gemm_gflops": gflops, "gemms": "784x25x6,100x150x16,1x400x120,1x120x84,1x84x10",
                   "epochs": epochs}}, open(out, "w"))
PY
    [ "${PEERS:-0}" = 1 ] || return 0
    # PEERS=1: the same network in PyTorch on one thread (Debian's python3-torch); target:
    # gdmpi faster at np=1.
    torch_s=$($PY tests/bench/torch_lenet.py data/fmnist-train.h5 "$REPEATS") || return 0
    $PY - "$OUT/part-cnn.json" "$torch_s" <<'PY'
import json, sys
part = json.load(open(sys.argv[1]))
c, t = part["cnn"], float(sys.argv[2])
c["torch_epoch_s"] = t
print("%-28s %10.3f %10s %7.2fx   (gdmpi / PyTorch; target: below 1)" % (
    "PyTorch epoch, 1 thread", t, "", c["epoch_s"] / t))
json.dump(part, open(sys.argv[1], "w"))
PY
}

# ---- architectures: allreduce, ps and ps-async at np = 2, 3, 4 -----------------------------
# configs/architectures/ on wider generated data than their header's (200 features, 10
# classes: a step is then more than its messages' latency); one server for ps and
# ps-async, so their workers are np - 1. Samples per second applied, over all workers,
# for the whole training (final samples / train_s). The machines have 2 cores: above np=2 the ranks
# share them, so those figures only compare the modes with each other.
ARCH_EPOCHS=${ARCH_EPOCHS:-3}
architectures_section() {
    "$GDMPI" data gen --task softmax --rows 20000 --features 200 --classes 10 --noise 0.1 --seed 7 \
        -o "$OUT/arch-train.h5" >/dev/null
    for mode in allreduce ps ps-async; do
        for n in 2 3 4; do
            for i in $(seq "$REPEATS"); do # a subshell: run's variables stay in it
                (run "runs/arch-$mode-np$n-$i" "$n" "configs/architectures/$mode.cfg" \
                    --set data.train="$OUT/arch-train.h5" --set train.epochs="$ARCH_EPOCHS")
            done
        done
    done
    $PY - "$OUT/runs" "$REPEATS" "$ARCH_EPOCHS" "$OUT/part-architectures.json" <<'PY'
import json, sys
runs, repeats, epochs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def best(mode, np):  # samples per second of the fastest repeat, and its workers
    rates = []
    for i in range(1, repeats + 1):
        s = json.load(open(f"{runs}/arch-{mode}-np{np}-{i}/summary.json"))
        rates.append(s["final"]["samples"] / s["train_s"])
        workers = s["ps"]["workers"] if "ps" in s else s["ranks_total"]
    return max(rates), workers
modes, nps = ("allreduce", "ps", "ps-async"), (2, 3, 4)
table = {m: {f"np{n}": best(m, n) for n in nps} for m in modes}
print(f"Architectures: softmax, 20000 x 200 generated rows, 10 classes, batch 32 per worker, "
      f"{epochs} epochs; samples/s over all workers (workers in brackets), best of {repeats}")
print("%-12s" % "mode" + "".join("%18s" % f"np={n}" for n in nps))
for m in modes:
    print("%-12s" % m + "".join("%18s" % ("%.0f (%d)" % table[m][f"np{n}"]) for n in nps))
print("above np=2 the ranks share 2 cores: compare the modes, not the rank counts")
json.dump({"architectures": {
    "problem": "softmax 20000 x 200, 10 classes, batch 32 per worker, %s epochs" % epochs,
    "unit": "samples per second over all workers (final samples / train_s)",
    "servers": 1, "oversubscribed_above_np": 2,
    "samples_per_s": {m: {k: round(v[0], 1) for k, v in table[m].items()} for m in modes},
    "workers": {m: {k: v[1] for k, v in table[m].items()} for m in modes}}}, open(out, "w"))
PY
}

# ---- PEERS=1: the same two problems in PyTorch (Debian's python3-torch) ------------------
# tests/bench/torch_peer.py: single process (one thread) and DDP over gloo at np=2, the best
# epoch of each, beside gdmpi's from the roofline section (busy seconds per epoch).
TORCH_EPOCHS_SOFTMAX=${TORCH_EPOCHS_SOFTMAX:-3}
TORCH_EPOCHS_MLP=${TORCH_EPOCHS_MLP:-2}
peers_section() {
    scripts/install-deps.sh python3-torch
    $PY tests/bench/torch_peer.py data/fmnist-train.h5 "$OUT/torch.json" \
        "$TORCH_EPOCHS_SOFTMAX" "$TORCH_EPOCHS_MLP" >/dev/null
    $PY - "$OUT/torch.json" "$OUT/part-roofline.json" "$OUT/part-peers.json" <<'PY'
import json, sys
torch, roof, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
cases = roof["roofline"]["cases"]
pairs = (("softmax np=1", "softmax-np1", "softmax_np1_s"),
         ("softmax np=2 (torch: DDP, gloo)", "softmax-np2", "softmax_np2_ddp_s"),
         ("mlp np=1", "mlp-nooverlap-np1", "mlp_np1_s"),
         ("mlp np=2 (torch: DDP, gloo)", "mlp-nooverlap-np2", "mlp_np2_ddp_s"))
rows = []
print("PyTorch %s peers: the same problems, best epoch s (gdmpi: busy s per epoch)" % torch["torch_version"])
print("%-34s %9s %9s %14s" % ("problem", "gdmpi", "torch", "torch / gdmpi"))
for label, case, key in pairs:
    g, t = cases[case]["epoch_s"], torch[key]
    rows.append({"problem": label, "gdmpi_s": g, "torch_s": t, "torch_over_gdmpi": t / g})
    print("%-34s %9.3f %9.3f %13.2fx" % (label, g, t, t / g))
json.dump({"peers": {"torch_version": torch["torch_version"], "table": rows}}, open(out, "w"))
PY
}

# ---- validation, timed apart from the epoch (metrics.csv's eval_s) ----------------------------
# The timed epochs above run without data.val; here the mlp evaluates the test set after
# each epoch, and the table gives what one evaluation costs beside the epoch it follows.
eval_section() {
    run runs/mlp-val-np1 1 configs/fmnist-mlp.cfg --set train.epochs="$MLP_EPOCHS" \
        --set data.val=data/fmnist-test.h5
    $PY - "$OUT/runs/mlp-val-np1" "$OUT/part-eval.json" <<'PY'
import csv, json, sys
run, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(run + "/metrics.csv")))
s = json.load(open(run + "/summary.json"))
r = s["ranks"][0]
epoch_s = (r["compute_s"] + r["comm_s"] + r["wait_s"]) / s["final"]["epoch"]
eval_s = min(float(x["eval_s"]) for x in rows)
print("Validation: mlp on the 10000 test rows after each epoch, np=1: %.3f s per evaluation "
      "(best of %d), %.1f%% of the %.3f s epoch; metrics.csv's eval_s, outside the epoch "
      "figures above" % (eval_s, len(rows), 100 * eval_s / epoch_s, epoch_s))
json.dump({"validation": {"problem": "mlp 784-256-128-10, 10000 rows, np=1",
                          "eval_s": eval_s, "epoch_s": epoch_s}}, open(out, "w"))
PY
}

# ---- streaming (data.stream): the epoch against in memory, and the memory bound ----------------
# (a) Fashion-MNIST at np=1, shuffled, with data.memory_mb a quarter of the shard (60000 x 784
# bytes: 44.9 MiB, so 11 MiB): wall seconds per epoch (metrics.csv's wall_s from epoch to
# epoch, the first excluded: it holds the setup), the median of each run, best of REPEATS;
# target 1.15x of in memory. (b) A generated file 5x larger than memory_mb x ranks (100000 x
# 700 floats, 267 MiB, memory_mb = 24) at np=2: peak RSS per rank (summary.json) against
# memory_mb + a 2000-row run's RSS (the process, MPI, HDF5 and the model: the fixed part).
STREAM_MB=${STREAM_MB:-11}
stream_section() {
    sm="configs/fmnist-softmax.cfg --set train.epochs=$SOFTMAX_EPOCHS"
    mlp="configs/fmnist-mlp.cfg --set train.epochs=$((MLP_EPOCHS + 1))"
    # shellcheck disable=SC2086
    {
        repeat stream-softmax-mem 1 $sm --set data.stream=false
        repeat stream-softmax-str 1 $sm --set data.stream=true --set data.memory_mb=$STREAM_MB
        repeat stream-mlp-mem 1 $mlp --set data.stream=false
        repeat stream-mlp-str 1 $mlp --set data.stream=true --set data.memory_mb=$STREAM_MB
    }
    "$GDMPI" data gen --task softmax --rows 100000 --features 700 --classes 10 \
        -o "$OUT/big.h5" >/dev/null
    "$GDMPI" data gen --task softmax --rows 2000 --features 700 --classes 10 \
        -o "$OUT/small.h5" >/dev/null
    big="configs/fmnist-softmax.cfg --set data.scale=1 --set train.epochs=1 --set data.memory_mb=24"
    # shellcheck disable=SC2086
    {
        run stream-rss-small 2 $big --set data.train="$OUT/small.h5"
        run stream-rss-big 2 $big --set data.train="$OUT/big.h5"
        run stream-rss-mem 2 $big --set data.train="$OUT/big.h5" --set data.stream=false
    }
    $PY - "$OUT" "$STREAM_MB" "$OUT/part-stream.json" <<'PY'
import csv, glob, json, statistics, sys
out, mb, part = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def epoch_s(name):  # best over the repeats of each run's median epoch
    best = []
    for run in glob.glob(out + "/runs/" + name + "-*"):
        wall = [float(r["wall_s"]) for r in csv.DictReader(open(run + "/metrics.csv"))]
        best.append(statistics.median(b - a for a, b in zip(wall, wall[1:])))
    return min(best)
def rss(name):
    return [r["peak_rss_mb"] for r in json.load(open(out + "/" + name + "/summary.json"))["ranks"]]
res = {}
print("Streaming: Fashion-MNIST at np=1, data.memory_mb = %d (a quarter of the 44.9 MiB shard); "
      "wall s per epoch, best of the runs' medians" % mb)
print("  model    in memory   streamed   ratio   (target <= 1.15)")
for model in ("softmax", "mlp"):
    m, s = epoch_s("stream-%s-mem" % model), epoch_s("stream-%s-str" % model)
    res[model] = {"memory_s": m, "stream_s": s, "ratio": s / m}
    print("  %-7s  %9.3f  %9.3f  %6.2fx" % (model, m, s, s / m))
small, big, mem = rss("stream-rss-small"), rss("stream-rss-big"), rss("stream-rss-mem")
bound = [s + 24 for s in small]
print("Streaming a 267 MiB file (100000 x 700 floats) at np=2 with data.memory_mb = 24 "
      "(the file is 5.6x memory_mb x ranks): peak RSS per rank")
for r in range(2):
    print("  rank %d: streamed %.1f MiB, bound %.1f (a 2000-row run's %.1f + 24), in memory %.1f"
          % (r, big[r], bound[r], small[r], mem[r]))
json.dump({"stream": {"epoch": res, "memory_mb": mb, "rss_mb": {
    "streamed": big, "bound": bound, "fixed": small, "in_memory": mem}}}, open(part, "w"))
PY
}

# bench.json: {"machine": ..., "load_average": [at the start, at the end], then every
# part's members}. Other processes on the cores make every figure worse: say so.
merge_parts() {
    load_end=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v a="$LOAD_START" -v b="$load_end" -v n="$(nproc)" 'BEGIN{exit !(a > 0.5 || b > n + 0.5)}'; then
        echo "note: load average $LOAD_START at the start, $load_end at the end: other processes shared the cores"
    fi
    $PY - "$(machine)" "$LOAD_START" "$load_end" "$OUT"/part-*.json <<'PY' >bench.json.tmp
import json, sys
out = {"machine": sys.argv[1], "load_average": [float(sys.argv[2]), float(sys.argv[3])]}
for path in sys.argv[4:]:
    out.update(json.load(open(path)))
json.dump(out, sys.stdout, indent=1)
print()
PY
    mv bench.json.tmp bench.json
    echo "wrote bench.json ($(machine))"
}

roofline_section
if [ "${PEERS:-0}" = 1 ]; then peers_section; fi
eval_section
stream_section
cnn_section
architectures_section
merge_parts
