# Parameter servers: parallel.mode = ps and ps-async at np = 2, 3, 4 with S = 1 and 2.
. tests/lib.sh
PY=/usr/bin/python3
CASES="2:1 3:1 3:2 4:1 4:2" # np:servers

# Strategy level: synchronous steps on S servers equal serial steps on the global mean.
for c in $CASES; do
    mpitest "${c%:*}" "$BUILD/tests/mpi_ps" "${c#*:}"
done

fixture d softmax rows=1203 features=10 classes=4 noise=0.1 seed=5 val_rows=400
cfg job d model.l2=0.001 optimizer.type=adam optimizer.lr=0.02 train.epochs=4 train.batch_size=50 \
    train.clip_norm=2



# ps at np = W + S takes allreduce's steps at np = W: the workers hold the same shards.
for w in 1 2 3; do
    run ar$w $w
done
for c in $CASES; do
    np=${c%:*} s=${c#*:}
    run ps$np-$s "$np" --set parallel.mode=ps --set parallel.servers=$s
    check "ps at np=$np with $s server(s) equals allreduce at np=$((np - s)) (losses, model.h5; 1e-5)" \
        same_run ar$((np - s)) ps$np-$s
done

CONSERVED='p["conservation"]["ok"] and p["conservation"]["pushes_sent"] > 0 and
    p["conservation"]["samples_applied"] == p["conservation"]["samples_sent"]'

# ps-async learns, applies every gradient pushed, and reports the same metrics.csv columns
# (on more rows: stale gradients learn less per step).
fixture d4 softmax rows=4000 features=10 classes=4 noise=0.1 seed=5 val_rows=1000
ASYNC="--set parallel.mode=ps-async --set optimizer.type=sgd --set optimizer.lr=0.5
    --set data.train=$TMP/d4.h5 --set data.val=$TMP/d4-val.h5 --set train.batch_size=32"
for c in $CASES; do
    np=${c%:*} s=${c#*:}
    run async$np-$s "$np" $ASYNC --set parallel.servers=$s
    acc=$(csv_last val_acc "$TMP/async$np-$s/metrics.csv" 2>/dev/null)
    check "ps-async at np=$np with $s server(s) reaches > 0.9 validation accuracy (got ${acc:-none})" \
        gt "${acc:-0}" 0.9
    check "ps-async at np=$np with $s server(s): gradients applied = pushed (conservation)" \
        holds async$np-$s "$CONSERVED"
done
same_columns() { [ "$(head -n 1 "$TMP/ar2/metrics.csv")" = "$(head -n 1 "$TMP/async4-2/metrics.csv")" ] &&
    [ "$(wc -l <"$TMP/async4-2/metrics.csv")" -eq 5 ]; }
check "ps-async writes metrics.csv with allreduce's columns, one row per epoch" same_columns
check "summary.json's ps member: staleness histogram, updates per server and worker, wait" \
    holds async4-1 'sum(p["staleness"]["histogram"]) == p["staleness"]["count"] > 0 and
        len(p["updates_per_server"]) == 1 and len(p["updates_per_worker"]) == 3 and
        sum(p["updates_per_worker"]) == p["updates_per_server"][0] and
        len(p["worker_wait_s"]) == 3 and s["ranks"][0]["rows"] == 0'

# Bounded staleness (SSP): with s >= 0 no gradient's clock lag exceeds s, whatever the
# fetch and push periods; s = 0 is lock-step, so no update is staler than one round.
for s in 0 1 2; do
    run ssp$s 4 $ASYNC --set parallel.staleness=$s --set parallel.push_every=2 \
        --set parallel.fetch_every=3 --set train.batch_size=10
    check "ps-async staleness=$s at np=4: largest clock lag <= $s, conservation holds" \
        holds ssp$s "p['clock_lag']['count'] > 0 and p['clock_lag']['max'] <= $s and ($CONSERVED)"
done
check "ps-async staleness=0 with 3 workers: lock-step, no update staler than 2 (W - 1)" \
    holds ssp0 'p["staleness"]["max"] <= 2'

# Downpour's periods and the staleness-aware lr still learn and conserve.
run periods 4 $ASYNC --set parallel.servers=2 --set parallel.push_every=3 --set parallel.fetch_every=2
check "ps-async push_every=3 fetch_every=2: > 0.9 accuracy, conservation" \
    holds periods "s['final']['val_acc'] > 0.9 and ($CONSERVED)"
run inverse 3 $ASYNC --set parallel.staleness_lr=inverse
check "ps-async staleness_lr=inverse: > 0.9 accuracy" holds inverse "s['final']['val_acc'] > 0.9"
run maxsteps 4 $ASYNC --set train.max_steps=40
check "ps-async train.max_steps=40: the servers stop the workers (<= 42 updates in flight)" \
    holds maxsteps "s['stop_reason'] == 'max_steps' and 40 <= p['updates_per_server'][0] <= 42"

# Per-worker files: {rank} counts the workers, servers hold no rows.
for r in 0 1 2; do
    fixture part-$r softmax rows=$((100 + 10 * r)) features=10 classes=4 seed=5
done
run parts 4 $ASYNC --set data.train="$TMP/part-{rank}.h5"
check "ps-async with data.train = part-{rank}.h5: worker k reads part-k, servers nothing" \
    holds parts '[r["rows"] for r in s["ranks"]] == [0, 100, 110, 120]'

# Failures never hang (expect, tests/lib.sh).
head -c 3000 "$TMP/part-1.h5" >"$TMP/bad-1.h5"
cp "$TMP/part-0.h5" "$TMP/bad-0.h5"
cp "$TMP/part-2.h5" "$TMP/bad-2.h5"
for mode in ps ps-async; do
    for s in 1 2; do
        expect "bad-$mode-$s" 1 "bad-1.h5: cannot open HDF5 file" 4 --set parallel.mode=$mode \
            --set parallel.servers=$s --set data.train="$TMP/bad-{rank}.h5"
    done
done
expect servers-ge-np 2 "parallel.servers = 2: ps needs at least one worker" 2 \
    --set parallel.mode=ps --set parallel.servers=2
expect sync-periods 2 "parallel.fetch_every and parallel.push_every apply to ps-async" 3 \
    --set parallel.mode=ps --set parallel.push_every=2
expect async-patience 2 "early stopping needs a synchronous mode" 3 \
    --set parallel.mode=ps-async --set train.patience=2

fixture lin linreg rows=1000 features=5 seed=3
for mode in ps ps-async; do
    expect "diverge-$mode" 3 "training diverged" 4 --set data.train="$TMP/lin.h5" --set data.val= \
        --set model.type=linreg --set optimizer.type=sgd --set optimizer.lr=50 --set train.clip_norm=0 \
        --set parallel.mode=$mode --set parallel.servers=2
    check "diverged $mode run: summary says so, no model.h5" diverged "diverge-$mode"
done

# A worker that dies mid-run ends the job: no server is left waiting for it.
killed_worker_ends_job() {
    timeout -k 2 30 mpirun --oversubscribe -np 4 "$GDMPI" "$TMP/job.cfg" $ASYNC \
        --set train.epochs=100000 --set train.max_seconds=20 --set data.val= \
        --set output.dir="$TMP/killed" >"$TMP/out" 2>&1 &
    job=$!
    pid=
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        sleep 0.5
        pid=$(rank_pid "$job" 2)
        [ -n "$pid" ] && break
    done
    [ -n "$pid" ] && sleep 0.5 && kill -9 "$pid"
    start=$(date +%s)
    wait $job
    status=$?
    [ -n "$pid" ] && [ $status -ne 0 ] && [ $(($(date +%s) - start)) -le 10 ]
}
check "ps-async: a worker killed mid-run ends the whole job within 10 s" killed_worker_ends_job
