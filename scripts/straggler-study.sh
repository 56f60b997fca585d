#!/bin/sh
# The study of docs/parallel-modes.md: every config of configs/architectures/ at np = NP, with and
# without one straggler (the last rank, parallel.slow_factor = 3), REPEATS times each; prints
# a markdown table of the wall-clock seconds each mode needs to reach val_loss <= TARGET
# (from metrics.csv: the first epoch row at or below it) and of the seconds per epoch. Each
# figure is the best of the repeats: on a shared machine other jobs only ever add time.
#
# The problem is configs/architectures/'s, with model.type = mlp (hidden 256,128) and
# optimizer.lr = 0.05: softmax's step takes microseconds, so communication alone would set
# the pace and a slower compute would hardly show.
#
# Environment: GDMPI (./gdmpi), OUT (runs/straggler), NP (4), REPEATS (3), TARGET (0.18),
# EPOCHS (10), FACTOR (3). Data: data/arch-train.h5 and data/arch-val.h5, made if missing.
set -u
GDMPI=${GDMPI:-./gdmpi}
OUT=${OUT:-runs/straggler}
NP=${NP:-4}
REPEATS=${REPEATS:-3}
TARGET=${TARGET:-0.18}
EPOCHS=${EPOCHS:-10}
FACTOR=${FACTOR:-3}
MODES="allreduce ps ps-async hogwild easgd easgd-async local-sgd"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

if [ ! -f data/arch-train.h5 ]; then
    mkdir -p data
    "$GDMPI" data gen --task softmax --rows 20000 --features 20 --classes 5 --noise 0.1 \
        --seed 7 -o data/arch-train.h5 --val data/arch-val.h5 --val-rows 2000 >/dev/null || exit 1
fi

for r in $(seq 1 "$REPEATS"); do
    for mode in $MODES; do
        for slow in none $((NP - 1)); do
            set -- --set output.dir="$OUT/$r/$mode-$slow" --set output.overwrite=true --set model.type=mlp \
                --set optimizer.lr=0.05 --set train.epochs="$EPOCHS"
            [ "$slow" != none ] &&
                set -- "$@" --set parallel.slow_ranks="$slow" --set parallel.slow_factor="$FACTOR"
            mpirun --oversubscribe -np "$NP" "$GDMPI" "configs/architectures/$mode.cfg" "$@" \
                >/dev/null 2>&1 || echo "straggler-study: $mode (slow: $slow, run $r) failed" >&2
        done
    done
done

/usr/bin/python3 - "$OUT" "$TARGET" "$REPEATS" "$NP" "$FACTOR" $MODES <<'PYEOF'
import csv, math, sys
out, target, repeats, np_, factor, modes = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5], sys.argv[6:]

def rows(d):
    try:
        return list(csv.DictReader(open(d + "/metrics.csv")))
    except OSError:
        return []

def reach(d):  # seconds to the first row at or below the target (nan: never)
    return next((float(r["wall_s"]) for r in rows(d)
                 if r["val_loss"] and float(r["val_loss"]) <= target), math.nan)

def best(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return min(xs) if xs else math.nan

slow = str(np_ - 1)

def per_epoch(d):
    rs = rows(d)
    return float(rs[-1]["wall_s"]) / len(rs) if rs else math.nan

def both(m, f):  # the best of f over the repeats, without and with the straggler
    return [best([f("%s/%d/%s-%s" % (out, r, m, s)) for r in range(1, repeats + 1)])
            for s in ("none", slow)]

print("| mode | epoch s | epoch s, rank %s %sx slower | s to val_loss <= %g | s to it, rank %s slower | slowdown |"
      % (slow, factor, target, slow))
print("|---|---|---|---|---|---|")
for m in modes:
    e, es = both(m, per_epoch)
    a, b = both(m, reach)
    print("| %s | %.3f | %.3f | %.2f | %.2f | %.2fx |" % (m, e, es, a, b, b / a))
PYEOF
