# Whole runs of hogwild, easgd, easgd-async and local-sgd on generated data: they learn,
# report their figures, run every config of configs/architectures/, and fail cleanly.
. tests/lib.sh
PY=/usr/bin/python3

fixture d softmax rows=4000 features=10 classes=4 noise=0.1 seed=5 val_rows=1000
cfg job d optimizer.type=sgd optimizer.lr=0.5 train.epochs=4 train.batch_size=32



# learns NAME NP WHAT [--set ...]: the run reaches > 0.9 validation accuracy.
learns() {
    name=$1 np=$2 what=$3
    shift 3
    run "$name" "$np" "$@"
    acc=$(csv_last val_acc "$TMP/$name/metrics.csv" 2>/dev/null)
    check "$what reaches > 0.9 validation accuracy (got ${acc:-none})" gt "${acc:-0}" 0.9
}

learns hw2 2 "hogwild at np=2 (one shared vector)" --set parallel.mode=hogwild
check "hogwild np=2: every update applied is counted, 4 epochs x 63 steps per rank" \
    holds hw2 's["hogwild"]["updates_applied"] == 504 and s["hogwild"]["groups"] == 1 and
        s["hogwild"]["updates_per_rank"] == [252, 252] and s["final"]["samples"] > 0'
learns hw4 4 "hogwild at np=4 in two groups of 2 (averaged every 4 steps), momentum" \
    --set parallel.mode=hogwild --set parallel.group_size=2 --set optimizer.type=momentum \
    --set optimizer.lr=0.1
# A leader posts a round every 4 of its 128 steps only when none is in flight, and a round
# completes only once the other leader joins it: how many complete depends on the two
# leaders' pace (an oversubscribed sanitizer run saw fewer than 31), never more than
# 128/4 plus the slower leader's closing round.
check "hogwild two groups: the leaders averaged, group_of_rank is [0, 0, 1, 1]" \
    holds hw4 's["hogwild"]["groups"] == 2 and 1 <= s["hogwild"]["averages"] <= 33 and
        s["hogwild"]["group_of_rank"] == [0, 0, 1, 1]'
learns easgd3 3 "easgd (synchronous) at np=3" --set parallel.mode=easgd
check "easgd: one exchange every tau = 4 steps, beta = 0.9" \
    holds easgd3 's["easgd"]["exchanges"] == 4 * s["steps_per_epoch"] // 4 and
        abs(s["easgd"]["beta"] - 0.9) < 1e-9'
learns easgda3 3 "easgd-async at np=3 (1 server, 2 workers)" --set parallel.mode=easgd-async
learns easgda4 4 "easgd-async at np=4 (2 servers, 2 workers), tau=1" \
    --set parallel.mode=easgd-async --set parallel.servers=2 --set parallel.tau=1
check "easgd-async: every exchange sent was applied (ps conservation), center in model.h5" \
    holds easgda4 's["ps"]["conservation"]["ok"] and s["ps"]["updates_per_server"][0] > 0 and
        s["easgd"]["variant"] == "async"'
learns local3 3 "local-sgd at np=3, H=4" --set parallel.mode=local-sgd
learns local3m 3 "local-sgd at np=3, H=8, momentum with averaged state" \
    --set parallel.mode=local-sgd --set parallel.average_every=8 --set optimizer.type=momentum \
    --set optimizer.lr=0.1 --set parallel.average_state=true
check "local-sgd H=8: averages every 8 steps (+1 at the end)" \
    holds local3m 's["local_sgd"]["averages"] == 4 * s["steps_per_epoch"] // 8 + 1'
run hwmax 3 --set parallel.mode=hogwild --set train.max_steps=50 --set train.epochs=100
check "hogwild train.max_steps=50 stops the shared vector at about 50 updates" \
    holds hwmax 's["stop_reason"] == "max_steps" and 50 <= s["hogwild"]["updates_applied"] <= 53'

# Every config of configs/architectures/ runs (on this data, 1 epoch) with the same columns.
header=$(head -n 1 "$TMP/hw2/metrics.csv" 2>/dev/null)
for cfg in configs/architectures/*.cfg; do
    arch=$(basename "$cfg" .cfg) # not $name: check sets that
    mpi 3 "$cfg" --set data.train="$TMP/d.h5" --set data.val="$TMP/d-val.h5" --set train.epochs=1 \
        --set output.dir="$TMP/cfg-$arch"
    status=$?
    cfg_runs() {
        [ "$status" -eq 0 ] && [ -n "$header" ] &&
            [ "$(head -n 1 "$TMP/cfg-$arch/metrics.csv" 2>/dev/null)" = "$header" ]
    }
    check "configs/architectures/$arch.cfg runs at np=3 (status $status), metrics.csv has the usual columns" \
        cfg_runs
    [ "$status" -eq 0 ] || tail -n 5 "$TMP/out" | sed 's/^/# /'
done

# Failures (expect, tests/lib.sh): the run ends within 10 s with that status and message.
expect hogwild-adam 2 "hogwild takes plain SGD or momentum steps" 2 \
    --set parallel.mode=hogwild --set optimizer.type=adam
expect hogwild-patience 2 "hogwild has no common best epoch" 2 \
    --set parallel.mode=hogwild --set train.patience=2
expect easgd-beta 2 "beta = ranks x alpha = 1.5" 3 --set parallel.mode=easgd --set parallel.alpha=0.5
expect easgd-async-push 2 "easgd-async exchanges with the servers every parallel.tau steps" 3 \
    --set parallel.mode=easgd-async --set parallel.push_every=2
expect easgd-async-servers 2 "parallel.servers = 2: easgd-async needs at least one worker" 2 \
    --set parallel.mode=easgd-async --set parallel.servers=2
expect slow-ranks-syntax 2 "parallel.slow_ranks = '1;2': not a comma-separated list" 2 \
    --set "parallel.slow_ranks=1;2"
expect slow-ranks-range 2 "rank 2 does not exist (this job has ranks 0..1)" 2 \
    --set parallel.slow_ranks=0,2

fixture lin linreg rows=1000 features=5 seed=3
for mode in hogwild easgd easgd-async local-sgd; do
    expect "diverge-$mode" 3 "training diverged" 3 --set data.train="$TMP/lin.h5" \
        --set data.val= --set model.type=linreg --set optimizer.lr=50 --set parallel.mode=$mode
    check "diverged $mode run: summary says so, no model.h5" diverged "diverge-$mode"
done

# One rank diverges alone (local-sgd, easgd: each rank steps its own parameters): every rank
# still ends with the divergence outcome, status 3, no model.h5, instead of mismatched
# collectives (MPI_ERR_TRUNCATE) or a stall. Self-contained: its own data and config.
fixture lone linreg rows=1000 features=5 seed=3
cfg lone lone model.type=linreg optimizer.type=sgd optimizer.lr=4.5 train.epochs=20 train.batch_size=32
lone_diverges() {
    dir=$1
    shift
    lone_start=$(date +%s)
    mpi 2 "$TMP/lone.cfg" --set output.dir="$TMP/$dir" "$@"
    lone_status=$? lone_took=$(($(date +%s) - lone_start))
    if [ "$lone_status" -eq 3 ] && [ "$lone_took" -le 20 ] && grep -qF "training diverged" "$TMP/out" &&
        grep -q '"status": "diverged"' "$TMP/$dir/summary.json" 2>/dev/null &&
        [ ! -e "$TMP/$dir/model.h5" ]; then
        return 0
    fi
    echo "# status $lone_status after ${lone_took}s"
    grep -v '^ *epoch' "$TMP/out" | head -n 4 | sed 's/^/# /'
    return 1
}
for lone in local-sgd:average_every=8 local-sgd:average_every=4 easgd:tau=4 easgd:tau=2; do
    check "one rank diverging alone in ${lone%%:*} (${lone#*:}) at np=2: status 3 within 20 s" \
        lone_diverges "lone-${lone%%:*}-${lone#*:}" --set parallel.mode="${lone%%:*}" \
        --set "parallel.${lone#*:}"
done
