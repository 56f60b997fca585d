# parallel.mode = gossip (D-PSGD, docs/parallel-modes.md): the complete topology with
# uniform weights is the allreduce on the parameters (1e-5); a ring at np=4 learns, its
# consensus distance and rank 0's own model are reported and its bytes are exactly the
# neighbours' messages; the torus and exponential graphs learn; a run cut at a checkpoint
# and resumed ends as the uninterrupted one.
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh
PY=/usr/bin/python3

# 1200 rows: 300 a rank at np=4, whole batches of 50, so that every rank's mean gradient has
# the same weight and the mean of the ranks' steps is the allreduce's step.
fixture d softmax rows=1200 features=10 classes=4 noise=0.1 seed=8 val_rows=400
cfg job d optimizer.type=sgd optimizer.lr=0.5 train.epochs=4 train.batch_size=50 \
    data.order=sequential

run ar 4 --set parallel.mode=allreduce
run complete 4 --set parallel.mode=gossip --set parallel.topology=complete
check "gossip, complete topology at np=4: metrics and model.h5 equal allreduce's within 1e-5" \
    same_run ar complete
check "complete topology: 3 neighbours, weight 1/4, the copies agree (consensus distance 0)" \
    holds complete 's["gossip"]["neighbours"] == 3 and s["gossip"]["weight"] == 0.25 and
        s["gossip"]["consensus_distance"] == [0, 0, 0, 0]'

# learns NAME WHAT [--set ...]: a gossip run at np=4 with > 0.9 validation accuracy.
learns() {
    ln_name=$1 what=$2
    shift 2
    run "$ln_name" 4 --set parallel.mode=gossip --set data.order=shuffle "$@"
    acc=$(csv_last val_acc "$TMP/$ln_name/metrics.csv" 2>/dev/null)
    check "$what reaches > 0.9 validation accuracy (got ${acc:-none})" gt "${acc:-0}" 0.9
}
learns ring "gossip, ring at np=4" --set parallel.topology=ring
check "ring: 2 neighbours; a consensus distance and rank 0's own accuracy every epoch; bytes: 2 x 44 floats a step" \
    holds ring '(g := s["gossip"])["neighbours"] == 2 and len(g["consensus_distance"]) == 4 and
        all(c > 0 for c in g["consensus_distance"]) and min(g["rank0_val_acc"]) > 0 and
        s["ranks"][0]["bytes_sent"] == 2 * 44 * 4 * 4 * s["steps_per_epoch"]'
learns torus "gossip, torus (2 x 2) at np=4" --set parallel.topology=torus
learns expo "gossip, exponential at np=4" --set parallel.topology=exponential
# Sizes where the graphs differ (at np=4 the torus is the ring and the exponential graph
# the complete one): a 2 x 3 torus (left, right and the other row: 3 neighbours), the
# exponential graph at np=8 (+-1, +-2 and 4: 5); one epoch, the plan and the bytes.
run torus6 6 --set parallel.mode=gossip --set parallel.topology=torus --set train.epochs=1
check "torus at np=6 (2 x 3): 3 neighbours, 3 x 44 floats a step" holds torus6 \
    's["gossip"]["neighbours"] == 3 and s["ranks"][0]["bytes_sent"] == 3 * 44 * 4 * s["steps_per_epoch"]'
run expo8 8 --set parallel.mode=gossip --set parallel.topology=exponential --set train.epochs=1
check "exponential at np=8: 5 neighbours, 5 x 44 floats a step" holds expo8 \
    's["gossip"]["neighbours"] == 5 and s["ranks"][0]["bytes_sent"] == 5 * 44 * 4 * s["steps_per_epoch"]'

# Resume: each rank's copy and optimizer, the figures so far.
run full 3 --set parallel.mode=gossip --set optimizer.type=momentum --set optimizer.lr=0.1
run cut 3 --set parallel.mode=gossip --set optimizer.type=momentum --set optimizer.lr=0.1 \
    --set train.max_steps=20 --set output.checkpoint_every=10s
run cut 3 --set parallel.mode=gossip --set optimizer.type=momentum --set optimizer.lr=0.1 \
    --set output.checkpoint_every=10s --set train.resume=auto
check "gossip ring at np=3, momentum: cut at step 20 and resumed, model.h5 bit for bit" \
    same_model "$TMP/full" "$TMP/cut"
check "... and the same consensus distances" holds cut \
    '__import__("json").load(open("'"$TMP"'/full/summary.json"))["gossip"]["consensus_distance"] ==
        s["gossip"]["consensus_distance"]'
run cut 3 --set parallel.mode=gossip --set optimizer.type=momentum --set optimizer.lr=0.1 \
    --set output.checkpoint_every=10s --set train.resume=auto --set train.epochs=5
check "... resumed again with train.epochs raised to 5: a 5th epoch and 5 consensus distances" \
    holds cut 'len(s["gossip"]["consensus_distance"]) == 5 and s["final"]["epoch"] == 5'

