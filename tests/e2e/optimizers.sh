# End-to-end: the optimizer family, schedules, stopping rules and the other training
# controls, on small generated data (each run well under a few seconds).
. tests/lib.sh
PY=/usr/bin/python3

fixture sm softmax rows=2000 features=10 classes=4 noise=0.1 seed=5 val_rows=500
fixture lin linreg rows=1000 features=5 noise=0.1 seed=3

# softmax_cfg NAME [section.key=value ...]: a softmax job writing to $TMP/NAME.
softmax_cfg() {
    name=$1
    shift
    cfg "$name" sm "$@" output.dir="$TMP/$name"
}

# Every optimizer, with its default hyper-parameters (optimizer.lr unset: its own
# default), reaches > 0.9 validation accuracy in the same budget: 40 epochs of
# batch 4 per rank at np=2 (10000 steps).
softmax_cfg budget train.epochs=40 train.batch_size=4
for opt in sgd momentum nesterov adagrad adadelta rmsprop adam adamax nadam amsgrad adamw; do
    mpi 2 "$TMP/budget.cfg" --set optimizer.type=$opt --set output.dir="$TMP/opt-$opt"
    acc=$(csv_last val_acc "$TMP/opt-$opt/metrics.csv" 2>/dev/null)
    check "$opt with default hyper-parameters reaches > 0.9 val accuracy (got ${acc:-none})" \
        gt "${acc:-0}" 0.9
done

# optimizer.lr = 0 (unset) resolves to the optimizer's default, visible in `gdmpi config`.
lr_of() { "$GDMPI" config "$TMP/budget.cfg" --set optimizer.type="$1" | awk '$1 == "lr" {print $3}'; }
check "adadelta's lr defaults to 1" [ "$(lr_of adadelta)" = 1 ]
check "sgd's lr defaults to 0.1" [ "$(lr_of sgd)" = 0.1 ]

# configs/optimizers/: one per optimizer, all valid, differing only in [optimizer].
only_optimizer_differs() {
    for f in configs/optimizers/*.cfg; do
        opt=$(basename "$f" .cfg)
        "$GDMPI" config "$f" >"$TMP/cfg.out" 2>&1 || { echo "$f: invalid"; return 1; }
        grep -q "^type = $opt " "$TMP/cfg.out" || { echo "$f: not optimizer $opt"; return 1; }
        # the lines outside [optimizer] are those of sgd.cfg
        awk '/^\[/{s=$0} s != "[optimizer]"' "$f" >"$TMP/a"
        awk '/^\[/{s=$0} s != "[optimizer]"' configs/optimizers/sgd.cfg >"$TMP/b"
        cmp -s "$TMP/a" "$TMP/b" || { echo "$f: differs outside [optimizer]"; return 1; }
    done
    [ "$(ls configs/optimizers/*.cfg | wc -l)" -eq 11 ]
}
check "configs/optimizers/ has all 11 optimizers, differing only in [optimizer]" only_optimizer_differs

# Early stopping: a noisy lr makes the validation loss go up and down; the run stops
# after `patience` worse epochs and model.h5 holds the best epoch's parameters.
softmax_cfg early train.epochs=30 train.patience=2
mpi 2 "$TMP/early.cfg" --set optimizer.lr=5
check "early stopping run exits 0" [ $? -eq 0 ]
best_epoch_restored() {
    "$GDMPI" eval "$TMP/early.cfg" >"$TMP/eval.out" 2>&1 || return 1
    $PY - "$TMP/early" "$TMP/eval.out" <<'PYEOF'
import sys, json, csv
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/metrics.csv")))
s = json.load(open(d + "/summary.json"))
best = min(rows, key=lambda r: float(r["val_loss"]))
acc = float([l.split()[1] for l in open(sys.argv[2]) if l.startswith("accuracy")][0])
assert s["stop_reason"] == "early_stopping", s["stop_reason"]
assert s["best_epoch"] == int(best["epoch"]), (s["best_epoch"], best["epoch"])
assert s["restored_best"] is True
assert len(rows) == s["best_epoch"] + 2, "stopped after patience = 2 worse epochs"
assert int(rows[-1]["epoch"]) < 30
assert abs(acc - float(best["val_acc"])) < 1e-3, (acc, best["val_acc"])
PYEOF
}
check "early stopping stops after patience epochs; model.h5 is the best epoch (summary names it)" \
    best_epoch_restored

# Divergence: a huge lr on linreg overflows. The run exits 3 with a message naming the
# epoch and step, and writes no model.h5 (never one of NaN).
cfg lin lin model.type=linreg train.epochs=3 output.dir="$TMP/lin"
mpi 2 "$TMP/lin.cfg"
check "linreg run before the divergence exits 0" [ $? -eq 0 ]
mpi 2 "$TMP/lin.cfg" --set optimizer.lr=1e5 --set output.dir="$TMP/lin-div"
check "a huge lr diverges with exit status 3" [ $? -eq 3 ]
check "the divergence message names the epoch and step" \
    grep -q "gdmpi: error: training diverged at epoch [0-9]*, step [0-9]*: non-finite" "$TMP/out"
check "the diverged run writes no model.h5" [ ! -e "$TMP/lin-div/model.h5" ]
check "summary.json says diverged" grep -q '"stop_reason": "diverged"' "$TMP/lin-div/summary.json"

# train.tol: the loss flattens out and the run ends long before its 200 epochs.
softmax_cfg tol train.epochs=200 train.tol=0.02 train.tol_epochs=2
mpi 2 "$TMP/tol.cfg"
stopped_by() { grep -q "\"stop_reason\": \"$1\"" "$2/summary.json"; }
check "train.tol stops the run when the loss stops changing" stopped_by tol "$TMP/tol"
check "... long before train.epochs" [ "$(csv_last epoch "$TMP/tol/metrics.csv")" -lt 200 ]

# train.max_seconds: a run far too long for its budget stops by itself and writes all
# of its outputs (how close to the budget is a timing, not asserted).
softmax_cfg budget-time train.epochs=1000000 train.batch_size=1 train.max_seconds=0.5
mpi 2 "$TMP/budget-time.cfg"
check "train.max_seconds stops a long run with exit 0" [ $? -eq 0 ]
check "... with stop_reason max_seconds" stopped_by max_seconds "$TMP/budget-time"
check "... and writes model.h5" [ -f "$TMP/budget-time/model.h5" ]
check "... and metrics.csv" [ -f "$TMP/budget-time/metrics.csv" ]

# Schedules: the lr column shows the lr in force (step: halve every 2 epochs; with the
# linear scaling rule at np=2 the base lr is 2 x 0.1).
softmax_cfg sched train.epochs=5
mpi 2 "$TMP/sched.cfg" --set schedule.type=step --set schedule.step_epochs=2 \
    --set schedule.gamma=0.5 --set schedule.scale_with_workers=true
lrs=$(awk -F, 'NR > 1 {printf "%s ", $8}' "$TMP/sched/metrics.csv")
check "metrics.csv's lr column follows the step schedule (got $lrs)" [ "$lrs" = "0.2 0.2 0.1 0.1 0.05 " ]
mpi 2 "$TMP/sched.cfg" --set schedule.type=cosine --set schedule.min_lr=0.01 \
    --set output.dir="$TMP/sched-cos"
# The last step's lr is a hair above min_lr (t = T - 1): below min_lr (a floor ignored) or
# well above it (a floor misread) both fail.
last_lr=$(csv_last lr "$TMP/sched-cos/metrics.csv")
near_floor() { [ -n "$last_lr" ] && ! gt 0.01 "$last_lr" && gt 0.0101 "$last_lr"; }
check "cosine ends at min_lr: 0.01 <= ${last_lr:-none} < 0.0101" near_floor

# Curriculum order, clipping, gradient noise and l1 together still train, reproducibly.
softmax_cfg ctl train.epochs=5 train.clip_norm=0.5 train.grad_noise=0.01
for run in a b; do
    mpi 2 "$TMP/ctl.cfg" --set data.order=curriculum --set model.l1=0.0001 \
        --set output.dir="$TMP/ctl-$run"
done
check "curriculum + clip_norm + grad_noise + l1 reach > 0.9 val accuracy" \
    gt "$(csv_last val_acc "$TMP/ctl-a/metrics.csv")" 0.9
check "... and the same seed gives the same model.h5 parameters" \
    $PY -c "import h5py, sys, numpy as np; a, b = (h5py.File('$TMP/ctl-'+r+'/model.h5', 'r')['params'][()] for r in 'ab'); sys.exit(not np.array_equal(a, b))"

# Bad settings name the key (into a fresh output.dir: lin's would be refused first).
mpi 1 "$TMP/lin.cfg" --set output.dir="$TMP/bad-run" --set train.patience=3
check "patience without data.val is a config error (exit 2)" [ $? -eq 2 ]
check "... whose message names data.val" \
    grep -q "train.patience = 3: early stopping needs validation data (set data.val)" "$TMP/out"
mpi 1 "$TMP/lin.cfg" --set optimizer.type=adamm
check "an unknown optimizer lists the known ones" \
    grep -q "known: sgd|momentum|nesterov|adagrad|adadelta|rmsprop|adam|adamax|nadam|amsgrad|adamw" "$TMP/out"
mpi 1 "$TMP/lin.cfg" --set output.dir="$TMP/bad-run" --set optimizer.type=adam --set optimizer.beta2=1
check "beta2 = 1 is refused" grep -q "optimizer.beta2 = 1: must be below 1" "$TMP/out"

# Allowed but degenerate: rmsprop's decay = 1 and adadelta's rho = 1 warn once (rank 0).
softmax_cfg degen train.epochs=1
mpi 2 "$TMP/degen.cfg" --set optimizer.type=rmsprop --set optimizer.decay=1
check "optimizer.decay = 1 with rmsprop: exit 0 and one warning naming it" \
    sh -c "[ $? -eq 0 ] && [ \$(grep -c 'warning: optimizer.decay = 1' '$TMP/out') -eq 1 ]"
mpi 2 "$TMP/degen.cfg" --set optimizer.type=adadelta --set optimizer.rho=1
check "optimizer.rho = 1 with adadelta: one warning naming it" \
    sh -c "[ \$(grep -c 'warning: optimizer.rho = 1' '$TMP/out') -eq 1 ]"
