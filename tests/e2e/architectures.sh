# Whole runs of hogwild, easgd, easgd-async and local-sgd on generated data: they learn,
# report their figures, run every config of configs/architectures/, and fail cleanly.
. tests/lib.sh
PY=/usr/bin/python3

gen --task softmax --rows 4000 --features 10 --classes 4 --noise 0.1 --seed 5 -o "$TMP/d.h5" \
    --val "$TMP/v.h5" --val-rows 1000
cat >"$TMP/job.cfg" <<CFG
[data]
train = $TMP/d.h5
val = $TMP/v.h5
[optimizer]
type = sgd
lr = 0.5
[train]
epochs = 4
batch_size = 32
CFG



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
check "hogwild two groups: the leaders averaged, group_of_rank is [0, 0, 1, 1]" \
    holds hw4 's["hogwild"]["groups"] == 2 and s["hogwild"]["averages"] >= 31 and
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
header=$(head -n 1 "$TMP/hw2/metrics.csv")
for cfg in configs/architectures/*.cfg; do
    name=$(basename "$cfg" .cfg)
    mpi 3 "$cfg" --set data.train="$TMP/d.h5" --set data.val="$TMP/v.h5" --set train.epochs=1 \
        --set output.dir="$TMP/cfg-$name"
    check "configs/architectures/$name.cfg runs at np=3, metrics.csv has the usual columns" \
        sh -c "[ \"\$(head -n 1 '$TMP/cfg-$name/metrics.csv')\" = '$header' ]"
done

# Failures: expect NAME STATUS NEEDLE NP ARGS...: the run ends within 10 s with that exit
# status and message.
expect() {
    name=$1 want=$2 needle=$3 np=$4
    shift 4
    start=$(date +%s)
    timeout -k 2 20 mpirun --oversubscribe -np "$np" "$GDMPI" "$TMP/job.cfg" \
        --set output.dir="$TMP/$name" "$@" >"$TMP/out" 2>&1
    status=$? took=$(($(date +%s) - start))
    if [ $status -eq "$want" ] && [ $took -le 10 ] && grep -qF -- "$needle" "$TMP/out"; then
        ok "$name: exit $want within 10 s: $needle"
    else
        notok "$name: status $status after ${took}s; wanted $want and: $needle"
        sed 's/^/# /' "$TMP/out" | head -n 6
    fi
}
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

gen --task linreg --rows 1000 --features 5 --seed 3 -o "$TMP/lin.h5"
for mode in hogwild easgd easgd-async local-sgd; do
    expect "diverge-$mode" 3 "training diverged" 3 --set data.train="$TMP/lin.h5" \
        --set data.val= --set model.type=linreg --set optimizer.lr=50 --set parallel.mode=$mode
    check "diverged $mode run: summary says so, no model.h5" \
        sh -c "grep -q '\"status\": \"diverged\"' '$TMP/diverge-$mode/summary.json' &&
               [ ! -e '$TMP/diverge-$mode/model.h5' ]"
done
