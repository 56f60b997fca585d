#!/bin/sh
# make study: the optimizer study (configs/optimizers/*.cfg) and the architecture study
# (configs/architectures/*.cfg, each also with a straggler where gdmpi has
# parallel.slow_ranks), and the variants (staleness-aware lr beside Downpour and allreduce
# under the straggler; local-sgd on a label-sorted Fashion-MNIST with contiguous shards and
# with data.shuffle = global), and, as root, compression under a 100 Mbit/s network
# (scripts/compress-study.sh: time to a target loss per compressor on shaped namespace hosts),
# compared with scripts/compare into one report.md with the PNGs beside it. Sized to finish in under 10 minutes on 2 cores: architecture runs get
# at most ARCH_EPOCHS epochs and an equal share of the time budget (train.max_seconds).
#
# Environment: GDMPI (./gdmpi), OUT (runs/study), OPT_DIR (configs/optimizers), ARCH_DIR
# (configs/architectures), NP (ranks of the optimizer study: all
# cores), ARCH_NP (ranks of the architecture study: 4, as its configs say: a server and
# three workers), ARCH_EPOCHS (10), BUDGET (seconds for the whole study: 540),
# SLOW_FACTOR (3: how much slower the straggler is), ARCH_SET (overrides of the architecture
# configs, "key=value ...": by default an mlp, as scripts/straggler-study.sh does, since
# softmax's step takes microseconds and a slower compute would hardly show), VARIANT_SECS
# (20: seconds of each run of the variants section, kept out of the architectures' share),
# COMPRESS_SECS (25: seconds of each run of the compression section, scripts/compress-study.sh,
# also kept out of that share; as root only, since it shapes namespace hosts with tc).
set -u
GDMPI=${GDMPI:-./gdmpi}
OUT=${OUT:-runs/study}
NP=${NP:-$(nproc)}
ARCH_NP=${ARCH_NP:-4}
ARCH_EPOCHS=${ARCH_EPOCHS:-10}
BUDGET=${BUDGET:-540}
SLOW_FACTOR=${SLOW_FACTOR:-3}
ARCH_SET=${ARCH_SET-model.type=mlp model.hidden=256,128 optimizer.lr=0.05}
OPT_DIR=${OPT_DIR:-configs/optimizers}
ARCH_DIR=${ARCH_DIR:-configs/architectures}
VARIANT_SECS=${VARIANT_SECS:-20}
VARIANT_RUNS=3 # the variants section's runs (variants_study)
COMPRESS_SECS=${COMPRESS_SECS:-25}
COMPRESS_RUNS=8 # scripts/compress-study.sh's runs, each COMPRESS_SECS and ~10 s of start-up
COMPRESS_RESERVE=0
[ "$(id -u)" -eq 0 ] && COMPRESS_RESERVE=$((COMPRESS_RUNS * (COMPRESS_SECS + 10)))
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 GDMPI
START=$(date +%s)
FAILED=0

rm -rf "$OUT"
mkdir -p "$OUT/runs"
LOG="$OUT/study.log"
: >"$LOG"

elapsed() { echo $(($(date +%s) - START)); }

# train LABEL NP SECONDS CONFIG [--set ...]: one run into $OUT/runs/LABEL; a run that fails
# or overruns is logged and left out of the comparison.
train() {
    label=$1 np=$2 secs=$3 cfg=$4
    shift 4
    echo "study: $label (np=$np, $(elapsed) s so far)"
    if ! timeout -k 5 $((3 * secs + 30)) mpirun --oversubscribe -np "$np" "$GDMPI" "$cfg" \
        --set output.dir="$OUT/runs/$label" --set output.overwrite=true \
        --set train.max_seconds="$secs" "$@" \
        >>"$LOG" 2>&1; then
        echo "study: $label failed or overran (see $LOG)"
        FAILED=$((FAILED + 1))
        rm -rf "$OUT/runs/$label"
    fi
}

# has_key KEY: the key exists in this gdmpi's key table.
has_key() { "$GDMPI" config --reference | grep -q "^| \`$1\` "; }

# epochs_of CONFIG: its train.epochs, resolved.
epochs_of() { "$GDMPI" config "$1" | awk '/^\[/{s=$0} s == "[train]" && $1 == "epochs" {print $3}'; }

# compare_runs PREFIX TITLE LABEL...: scripts/compare over the runs that succeeded; prints
# its table and images (compare.md without its heading) for the report.
compare_runs() {
    prefix=$1 title=$2
    shift 2
    dirs=""
    for l in "$@"; do
        [ -f "$OUT/runs/$l/metrics.csv" ] && dirs="$dirs $l=$OUT/runs/$l"
    done
    if [ -z "$dirs" ]; then
        printf 'No run finished.\n\n'
        return
    fi
    # shellcheck disable=SC2086
    if "$PY" scripts/compare -o "$OUT" --prefix "$prefix" --title "$title" $dirs >/dev/null; then
        sed 1,2d "$OUT/${prefix}compare.md"
    else
        FAILED=$((FAILED + 1))
        printf 'scripts/compare failed (see above).\n\n'
    fi
}

optimizer_study() {
    labels=""
    for cfg in "$OPT_DIR"/*.cfg; do
        l=$(basename "$cfg" .cfg)
        train "$l" "$NP" 60 "$cfg"
        labels="$labels $l"
    done
    {
        echo "## Optimizer study"
        echo
        echo "Every config in \`$OPT_DIR/\` as it is (softmax on Fashion-MNIST; they differ only in"
        echo "\`[optimizer]\`), at np=$NP."
        echo
        # shellcheck disable=SC2086
        compare_runs optimizers- "Optimizer study, np=$NP" $labels
    } >"$OUT/section-1-optimizers.md"
}

# ensure_data CONFIG: when the config's data.train does not exist yet, runs the command
# that the config documents in its comment block "# Data (once):" (./gdmpi: $GDMPI).
ensure_data() {
    train=$("$GDMPI" config "$1" 2>/dev/null | awk '/^\[/{s=$0} s == "[data]" && $1 == "train" {print $3}')
    if [ -z "$train" ] || [ -e "$train" ]; then
        return 0
    fi
    cmd=$(sed -n '/^# Data (once):/,/^# [^ ]/{/^#   /p}' "$1" | sed 's/^#  *//; s/\\$//' | tr '\n' ' ')
    [ -n "$cmd" ] || return 0
    mkdir -p "$(dirname "$train")"
    echo "study: making $train"
    eval "\"\$GDMPI\"${cmd#./gdmpi}" >>"$LOG" 2>&1 || echo "study: could not make $train (see $LOG)"
}

arch_configs() { ls "$ARCH_DIR"/*.cfg 2>/dev/null; }

# arch_args CONFIG: the overrides of one architecture run (epochs, ARCH_SET) as --set pairs.
arch_args() {
    e=$(epochs_of "$1")
    [ "${e:-$ARCH_EPOCHS}" -gt "$ARCH_EPOCHS" ] && e=$ARCH_EPOCHS
    printf -- '--set train.epochs=%s' "${e:-$ARCH_EPOCHS}"
    for kv in $ARCH_SET; do
        printf ' --set %s' "$kv"
    done
}

architecture_study() {
    n=$(arch_configs | wc -l)
    if [ "$n" -eq 0 ]; then
        printf '## Architecture study\n\n%s/ holds no config yet.\n\n' "$ARCH_DIR" \
            >"$OUT/section-2-architectures.md"
        return
    fi
    straggler=0
    has_key parallel.slow_ranks && straggler=1
    left=$((BUDGET - $(elapsed) - VARIANT_RUNS * VARIANT_SECS - COMPRESS_RESERVE))
    secs=$((left / (n * (1 + straggler))))
    [ "$secs" -gt 90 ] && secs=90
    [ "$secs" -lt 5 ] && secs=5
    slow="--set parallel.slow_ranks=$((ARCH_NP - 1))"
    has_key parallel.slow_factor && slow="$slow --set parallel.slow_factor=$SLOW_FACTOR"
    plain="" slowed=""
    for cfg in $(arch_configs); do
        ensure_data "$cfg"
        l=$(basename "$cfg" .cfg)
        # shellcheck disable=SC2046
        train "$l" "$ARCH_NP" "$secs" "$cfg" $(arch_args "$cfg")
        plain="$plain $l"
        if [ "$straggler" -eq 1 ]; then
            # shellcheck disable=SC2046,SC2086
            train "$l+slow" "$ARCH_NP" "$secs" "$cfg" $(arch_args "$cfg") $slow
            slowed="$slowed $l+slow"
        fi
    done
    {
        echo "## Architecture study"
        echo
        echo "Every config in \`$ARCH_DIR/\` at np=$ARCH_NP${ARCH_SET:+, with \`$ARCH_SET\`}, at most"
        echo "$ARCH_EPOCHS epochs or $secs s each (\`train.max_seconds\`)."
        echo
        echo "### Without a straggler"
        echo
        # shellcheck disable=SC2086
        compare_runs architectures- "Architectures, np=$ARCH_NP" $plain
        if [ "$straggler" -eq 1 ]; then
            echo "### With a straggler"
            echo
            echo "Rank $((ARCH_NP - 1)) computes $SLOW_FACTOR times slower (\`$slow\`)."
            echo
            # shellcheck disable=SC2086
            compare_runs architectures-slow- "Architectures, rank $((ARCH_NP - 1)) $SLOW_FACTOR x slower" $slowed
            # shellcheck disable=SC2086
            straggler_table $plain
        else
            echo "This gdmpi has no \`parallel.slow_ranks\`: no straggler runs."
        fi
    } >"$OUT/section-2-architectures.md"
}

# straggler_table LABEL...: throughput and final accuracy of each run against its
# straggler twin (LABEL+slow).
straggler_table() {
    "$PY" - "$OUT/runs" "$@" <<'PY'
import csv, os, sys
root, labels = sys.argv[1], sys.argv[2:]
def last(label):
    try:
        rows = list(csv.DictReader(open(os.path.join(root, label, "metrics.csv"))))
        r = rows[-1]
        acc = "%.4f" % float(r["val_acc"]) if r.get("val_acc") else ""
        return float(r["samples"]) / float(r["wall_s"]), acc
    except (OSError, IndexError, KeyError, ValueError, ZeroDivisionError):
        return None
print("### What the straggler costs\n")
print("| run | samples/s | with straggler | kept | val acc | val acc with straggler |")
print("|---|---|---|---|---|---|")
for l in labels:
    a, b = last(l), last(l + "+slow")
    if a and b:
        print("| %s | %.0f | %.0f | %.0f%% | %s | %s |" % (l, a[0], b[0], 100 * b[0] / a[0], a[1], b[1]))
print()
PY
}

# Variants of one architecture, each against its baseline: the staleness-aware lr of
# ps-async beside averaged pushes, Downpour as published and allreduce, all with the
# straggler (the architecture study's +slow runs); and local-sgd on a copy of
# Fashion-MNIST sorted by label, with contiguous shards (non-IID workers) and with
# data.shuffle = global.
variants_study() {
    slow="--set parallel.slow_ranks=$((ARCH_NP - 1)) --set parallel.slow_factor=$SLOW_FACTOR"
    # shellcheck disable=SC2046,SC2086
    [ -f "$ARCH_DIR/ps-async.cfg" ] && train "ps-async-inverse+slow" "$ARCH_NP" "$VARIANT_SECS" \
        "$ARCH_DIR/ps-async.cfg" $(arch_args "$ARCH_DIR/ps-async.cfg") $slow \
        --set parallel.staleness_lr=inverse
    sorted="$OUT/fmnist-train-sorted.h5"
    "$PY" - data/fmnist-train.h5 "$sorted" <<'PY' >>"$LOG" 2>&1
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    X, y = f["X"][...], f["y"][...]
o = np.argsort(y, kind="stable")
with h5py.File(sys.argv[2], "w") as g:
    g["X"], g["y"] = X[o], y[o]
PY
    for shuffle in rank global; do
        train "local-sgd-sorted-$shuffle" "$ARCH_NP" "$VARIANT_SECS" configs/fmnist-softmax.cfg \
            --set data.train="$sorted" --set parallel.mode=local-sgd \
            --set parallel.average_every=100 --set data.shuffle=$shuffle --set train.epochs=5
    done
    {
        echo "## Variants"
        echo
        echo "### Staleness, with the straggler"
        echo
        echo "ps-async (averaged pushes) with \`staleness_lr = none\` and \`inverse\` (Zhang et al."
        echo "2016), Downpour as published, and allreduce, rank $((ARCH_NP - 1)) $SLOW_FACTOR x slower."
        echo "(AdaptiveRevision, McMahan & Streeter 2014, is not in gdmpi yet.)"
        echo
        compare_runs variants-stale- "Staleness, rank $((ARCH_NP - 1)) slower" \
            "ps-async+slow" "ps-async-inverse+slow" "downpour+slow" "allreduce+slow"
        echo "### Non-IID workers: a label-sorted file"
        echo
        echo "local-sgd (average every 100 steps) at np=$ARCH_NP on Fashion-MNIST sorted by label:"
        echo "contiguous shards give each worker two or three classes; \`data.shuffle = global\`"
        echo "redistributes the rows every epoch."
        echo
        compare_runs variants-iid- "local-sgd on a label-sorted file, np=$ARCH_NP" \
            local-sgd-sorted-rank local-sgd-sorted-global
    } >"$OUT/section-3-variants.md"
}

machine() {
    printf '%s cores, %s, %s; %s\n' "$(nproc)" "$(uname -m)" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
        "$("$GDMPI" --version | head -n 1)"
}

write_report() {
    {
        echo "# gdmpi study"
        echo
        echo "Machine: $(machine). Written by \`make study\` on $(date -u '+%Y-%m-%d %H:%M UTC') in $(elapsed) s."
        echo "Runs and their outputs are in \`runs/\`; the log of every run in \`study.log\`."
        echo "Throughput is samples per second of wall-clock time over all ranks; with more ranks"
        echo "than cores the ranks share cores, so compare those figures only with each other."
        echo
        cat "$OUT"/section-*.md
    } >"$OUT/report.md"
}

# Compression under a 100 Mbit/s network (root only: namespace hosts shaped with tc).
compression_study() {
    OUT=$OUT GDMPI=$GDMPI SECS=$COMPRESS_SECS scripts/compress-study.sh >>"$LOG" 2>&1 ||
        FAILED=$((FAILED + 1))
}

optimizer_study
architecture_study
variants_study
compression_study
write_report
echo "study: wrote $OUT/report.md in $(elapsed) s ($FAILED failures)"
[ "$(elapsed)" -le 600 ] || echo "study: over the 10-minute budget"
[ "$FAILED" -eq 0 ]
