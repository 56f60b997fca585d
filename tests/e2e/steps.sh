# steps.csv (output.log_every): a row every N steps with the documented columns; its loss
# and gradient norm are the step's own (pinned on a test function, where both are known
# from the path); with N = steps per epoch its losses are metrics.csv's; a run resumed
# after a crash writes the same rows as one never stopped (but wall_s), in allreduce, ps
# and local-sgd, also into another output.dir; asynchronous modes and the old key train.log_every are refused by name.
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh

fixture train softmax rows=1200 features=8 classes=3 noise=0.5 seed=5
cfg job train optimizer.type=momentum optimizer.lr=0.05 train.epochs=3 train.batch_size=32 \
    schedule.type=cosine train.clip_norm=0.5
# train NP DIR ARGS...: a run of job.cfg into $TMP/DIR; status in $?.
train() {
    np=$1 dir=$2
    shift 2
    mpi "$np" "$TMP/job.cfg" --set output.dir="$TMP/$dir" "$@"
}
# without_wall FILE: the file but for its wall_s column (the third).
without_wall() { cut -d, -f1,2,4- "$1"; }

# --- the rows and columns: 2 ranks, 19 steps per epoch, 57 in all, a row every 5 ---------
train 2 every5 --set output.log_every=5
check "log_every = 5 exits 0" [ $? -eq 0 ]
check "steps.csv's header is the documented one" \
    [ "$(head -n 1 "$TMP/every5/steps.csv")" = "step,epoch,wall_s,samples,train_loss,lr,grad_norm" ]
check "rows at steps 5, 10, ..., 55 (none for the 2 steps after the last)" \
    [ "$(awk -F, 'NR>1{printf "%s ", $1}' "$TMP/every5/steps.csv")" = "5 10 15 20 25 30 35 40 45 50 55 " ]
epochs_right() { awk -F, 'NR>1 && $2 != int(($1 - 1) / 19) + 1 {bad=1} END {exit bad || NR < 2}' "$1"; }
check "each row's epoch is its step's (19 steps per epoch)" epochs_right "$TMP/every5/steps.csv"
# samples: 32 a step and rank; the last step of an epoch has 600 - 18 x 32 = 24 rows a rank
check "samples: 2 x 32 a step, 2 x 24 on each epoch's last (step 20: 19 x 64 - 16)" \
    [ "$(awk -F, '$1==20{print $4}' "$TMP/every5/steps.csv")" = 1264 ]
cosine_lr_falls() { awk -F, 'NR>2 && !($6 < prev) {bad=1} {prev=$6} END {exit bad}' "$1"; }
check "lr is the step's: cosine, falling row by row" cosine_lr_falls "$TMP/every5/steps.csv"
norms_unclipped() { awk -F, 'NR>1 && !($7 > 0) {bad=1} NR>1 && $7 > 0.5 {big=1} END {exit bad || !big}' "$1"; }
check "grad_norm is set on every row, and before clipping (some above clip_norm = 0.5)" \
    norms_unclipped "$TMP/every5/steps.csv"

train 2 every19 --set output.log_every=19
epoch_losses() { awk -F, -v c="$2" 'NR>1{print $c}' "$1"; }
check "log_every = steps per epoch: train_loss is metrics.csv's, epoch by epoch" \
    [ "$(epoch_losses "$TMP/every19/steps.csv" 5)" = "$(epoch_losses "$TMP/every19/metrics.csv" 5)" ]

# 600 rows in one epoch: the 256-row buffer is written when full, twice, and at the end.
train 1 long --set output.log_every=1 --set train.batch_size=2 --set train.epochs=1
each_step_once() { awk -F, 'NR>1 && $1 != NR-1 {bad=1} END {exit bad || NR != 601}' "$1"; }
check "600 rows in one epoch (a full buffer written twice): steps 1..600, each once, in order" \
    each_step_once "$TMP/long/steps.csv"

# --- a test function: f and its gradient at each step's point are known from the path ----
# booth: f = (x + 2y - 7)^2 + (2x + y - 5)^2. A row's step k was taken at trajectory row k-1.
mpi 1 configs/testfn-rosenbrock.cfg --set model.function=booth --set optimizer.type=sgd \
    --set optimizer.lr=0.01 --set train.epochs=1 --set output.log_every=1 --set output.dir="$TMP/booth"
check "testfn with log_every = 1 exits 0" [ $? -eq 0 ]
booth_rows() {
    awk -F, 'FNR==1{next} NR==FNR{x[$1]=$2; y[$1]=$3; next}
        { k = $1 - 1; a = x[k] + 2*y[k] - 7; b = 2*x[k] + y[k] - 5
          f = a*a + b*b; gx = 2*a + 4*b; gy = 4*a + 2*b; g = sqrt(gx*gx + gy*gy); n++
          if ((($5 - f)^2 > 1e-8 * f*f) || (($7 - g)^2 > 1e-8 * g*g)) bad = 1 }
        END {exit bad || n != 100}' "$TMP/booth/trajectory.csv" "$TMP/booth/steps.csv"
}
check "booth: 100 rows, each with f and |grad f| at the point its step started from" booth_rows

# --- resumed after a crash in mid-epoch equals uninterrupted, but for wall_s -------------
# Checkpoints every 7 steps, rows every 3 (the sums between a row and a checkpoint are
# saved); the crash at the 3rd checkpoint (step 21) comes after rows up to step 21 were
# written, which the resume must drop and write again from the 2nd (step 14).
for mode in allreduce ps local-sgd; do
    np=2
    [ $mode = ps ] && np=3
    args="--set parallel.mode=$mode --set output.log_every=3 --set output.checkpoint_every=7s"
    train $np "$mode-full" $args
    check "$mode: the uninterrupted run exits 0" [ $? -eq 0 ]
    GDMPI_FAULT=checkpoint-write:3 train $np "$mode-cut" $args
    check "$mode: the crash at the 3rd checkpoint ends the job" [ $? -ne 0 ]
    check "$mode: steps.csv already has the row of step 21, past the checkpoint at step 14" \
        grep -q '^21,' "$TMP/$mode-cut/steps.csv"
    train $np "$mode-cut" $args --set train.resume=auto
    check "$mode: the resumed run exits 0" [ $? -eq 0 ]
    without_wall "$TMP/$mode-full/steps.csv" >"$TMP/a.csv"
    without_wall "$TMP/$mode-cut/steps.csv" >"$TMP/b.csv"
    check "$mode: the resumed steps.csv equals the uninterrupted one but for wall_s" cmp -s "$TMP/a.csv" "$TMP/b.csv"
done

# train.resume = PATH into another output.dir: the rows before the checkpoint come from the
# steps.csv beside it.
args="--set output.log_every=3 --set output.checkpoint_every=7s"
GDMPI_FAULT=checkpoint-write:3 train 2 elsewhere-cut $args
train 2 elsewhere $args --set train.resume="$TMP/elsewhere-cut/checkpoint.h5"
check "resume = PATH into a new dir exits 0" [ $? -eq 0 ]
without_wall "$TMP/elsewhere/steps.csv" >"$TMP/b.csv"
without_wall "$TMP/allreduce-full/steps.csv" >"$TMP/a.csv"
check "... and its steps.csv equals the uninterrupted one but for wall_s" cmp -s "$TMP/a.csv" "$TMP/b.csv"

# A resume whose steps.csv lost the rows the checkpoint counts says so, and how to go on.
GDMPI_FAULT=checkpoint-write:3 train 2 lost --set output.log_every=3 --set output.checkpoint_every=7s
rm -f "$TMP/lost/steps.csv"
train 2 lost --set output.log_every=3 --set output.checkpoint_every=7s --set train.resume=auto
check "a resume without the checkpoint's steps.csv fails" [ $? -ne 0 ]
check "... naming the file and output.log_every = 0" grep -q "lost/steps.csv: .*output.log_every = 0" "$TMP/out"
train 2 lost --set output.log_every=0 --set output.checkpoint_every=7s --set train.resume=auto
check "... which resumes without it" [ $? -eq 0 ]

# --- refused ------------------------------------------------------------------------------
for mode in ps-async downpour hogwild easgd-async; do
    train 3 async --set parallel.mode=$mode --set output.log_every=5
    check "$mode with output.log_every is refused (exit 2) naming the key" \
        sh -c "[ $? -eq 2 ] && grep -q 'output.log_every = 5: steps.csv needs a synchronous mode' '$TMP/out'"
done
refused 2 "train.log_every is now output.log_every" "$TMP/job.cfg" --set train.log_every=5
