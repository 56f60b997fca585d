#!/bin/sh
# make scale-study: gdmpi-sim on simulated clusters (docs/scaling.md). Fashion-MNIST
# softmax (configs/fmnist-softmax.cfg) and MLP (configs/fmnist-mlp.cfg) at np = 16, 64 and 256 on the 10 GbE
# and the InfiniBand-like fat trees, in allreduce, ps (1 and 4 servers), ps-async (Downpour
# style, 1 server) and local-sgd: simulated time per epoch, the validation loss reached
# and the time to a target one, ps-async's staleness, and for allreduce an alpha-beta estimate of its comm per step
# beside the simulated one; plus what each simulation cost here (wall time, peak memory).
# Writes OUT/report.md with its PNGs. 5 to 10 minutes on 2 cores.
#
# Environment: OUT (runs/scale-study), NPS ("16 64 256"), EPOCHS (1), PLATFORMS
# ("10gbe ib100"), MODELS ("softmax mlp"), MODES ("allreduce ps ps4 ps-async local-sgd"),
# TARGET_LOSS (0.9: the validation loss whose simulated time the report gives).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
OUT=${OUT:-runs/scale-study}
NPS=${NPS:-16 64 256}
EPOCHS=${EPOCHS:-1}
PLATFORMS=${PLATFORMS:-10gbe ib100}
MODELS=${MODELS:-softmax mlp}
MODES=${MODES:-allreduce ps ps4 ps-async local-sgd}
rm -rf "$OUT"
mkdir -p "$OUT/runs"
: >"$OUT/runs.tsv"
failed=0

# mode_args MODE: the --set options of a mode name (ps4: ps with four servers).
mode_args() {
    case $1 in
    ps4) echo "--set parallel.mode=ps --set parallel.servers=4" ;;
    *) echo "--set parallel.mode=$1 --set parallel.servers=1" ;;
    esac
}

for platform in $PLATFORMS; do
    for model in $MODELS; do
        case $model in softmax) cfg=configs/fmnist-softmax.cfg ;; *) cfg=configs/fmnist-mlp.cfg ;; esac
        for np in $NPS; do
            for mode in $MODES; do
                name=$platform-$model-$np-$mode
                # shellcheck disable=SC2046 # mode_args: words on purpose
                /usr/bin/time -f "%e %M" -o "$OUT/runs/$name.time" \
                    scripts/sim-run "$cfg" --np "$np" --platform "$platform" $(mode_args "$mode") \
                    --set train.epochs="$EPOCHS" --set parallel.overlap=false \
                    --set output.dir="$OUT/runs/$name" --set output.overwrite=true \
                    >"$OUT/runs/$name.log" 2>&1
                status=$?
                # status 3: the run diverged, a result of the study (ps-async's staleness)
                case $status in 0 | 3) ;; *) failed=$((failed + 1)); echo "scale-study: $name failed" >&2 ;; esac
                printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$platform" "$model" "$np" "$mode" "$status" \
                    "$(cat "$OUT/runs/$name.time" 2>/dev/null | tail -n 1)" >>"$OUT/runs.tsv"
                echo "scale-study: $name: status $status, $(tail -n 1 "$OUT/runs/$name.time") (s, KiB)"
            done
        done
    done
done
/usr/bin/python3 scripts/scale_report.py "$OUT"
echo "scale-study: $OUT/report.md ($failed failed)"
[ "$failed" -eq 0 ]
