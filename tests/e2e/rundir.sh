# Output directories never mix two runs: a fresh run into an output.dir that holds another
# run's outputs is refused on every rank before any data is read, naming the directory and
# the way out; output.overwrite = true removes the old run's files (gdmpi's own names
# only) first; a resume keeps them.
. tests/lib.sh

fixture sm softmax rows=400 features=5 classes=3 noise=0.1 seed=7 val_rows=100
cfg job sm train.epochs=1 train.batch_size=32

# The first run into a fresh directory trains.
run first 2 --set output.trace=true
check "a run into a fresh output.dir exits 0 and writes trace.json" [ $? -eq 0 -a -e "$TMP/first/trace.json" ]
sum_before=$(md5sum <"$TMP/first/model.h5")

# A second fresh run into it is refused (status 2) on every rank, before reading data: the
# missing training file is never reached.
expect first 2 "output.dir = '$TMP/first' holds another run's outputs (model.h5, metrics.csv, summary.json, trace.json): pass --set output.overwrite=true to replace them, or train into a new output.dir" \
    2 --set data.train="$TMP/missing.h5"
check "... and the refusal names no data file (it read none)" sh -c "! grep -q missing.h5 '$TMP/out'"
check "... and leaves the old run's model.h5 as it was" [ "$(md5sum <"$TMP/first/model.h5")" = "$sum_before" ]
check "... nor writes a summary.json of its own" grep -q '"status": "ok"' "$TMP/first/summary.json"

# output.overwrite = true removes the old run's files first: no stale trace.json or
# steps.csv (this run writes neither), while a file that is not gdmpi's stays.
echo "my notes" >"$TMP/first/notes.txt"
: >"$TMP/first/steps.csv"
: >"$TMP/first/metrics.csv.tmp"
run first 2 --set output.overwrite=true
check "output.overwrite = true trains into it (status 0)" [ $? -eq 0 ]
check "... removing the stale trace.json, steps.csv and metrics.csv.tmp" \
    sh -c "[ ! -e '$TMP/first/trace.json' ] && [ ! -e '$TMP/first/steps.csv' ] && [ ! -e '$TMP/first/metrics.csv.tmp' ]"
check "... keeping a file that is not gdmpi's (notes.txt)" grep -qx "my notes" "$TMP/first/notes.txt"
check "... with this run's outputs in place" sh -c "[ -s '$TMP/first/model.h5' ] && [ -s '$TMP/first/summary.json' ]"

# A directory holding only other files is not another run's.
mkdir -p "$TMP/other" && echo x >"$TMP/other/README"
run other 1
check "a directory with no gdmpi outputs trains without output.overwrite" [ $? -eq 0 ]

# A resume continues the run in its directory: its files are kept, not refused.
run res 1 --set output.checkpoint_every=1
run res 1 --set output.checkpoint_every=1 --set train.resume=auto --set train.epochs=2
check "train.resume = auto into the run's own directory is no conflict (status 0)" [ $? -eq 0 ]
check "... and it resumed: metrics.csv has both epochs" [ "$(csv_last epoch "$TMP/res/metrics.csv")" = 2 ]
expect res 2 "(--set train.resume=auto continues that run)" 1

# `gdmpi config --check` gives the verdict a run would give, without MPI or touching the dir.
said() {
    dir=$1
    shift
    "$GDMPI" config "$TMP/job.cfg" --set output.dir="$TMP/$dir" "$@" >"$TMP/check" 2>&1
}
# refused STATUS: the check ended with status 2 naming $TMP/first's other run.
refused() { [ "$1" -eq 2 ] && grep -q "output.dir = '$TMP/first' holds another run's outputs" "$TMP/check"; }
said first --check
check "config --check: another run's outputs there are refused (status 2), as training would" \
    refused $?
said first --check --set output.overwrite=true
check "config --check: with output.overwrite the verdict is 'overwrite'" \
    grep -qx "the config is valid; output.dir = '$TMP/first': overwrite" "$TMP/check"
said res --set train.resume=auto --check
check "config --check: with train.resume = auto the verdict is 'resume'" \
    grep -qx "the config is valid; output.dir = '$TMP/res': resume" "$TMP/check"
said new --check
check "config --check: a new directory is 'fresh'" \
    grep -qx "the config is valid; output.dir = '$TMP/new': fresh" "$TMP/check"
check "... and config --check created nothing" [ ! -e "$TMP/new" ]

# The Slurm job script resumes only on a requeue: resubmitting a finished job is refused
# before any rank starts (its --check says so before submission), a requeue resumes.
sbatch_check() { GDMPI=$GDMPI bash scripts/slurm/gdmpi.sbatch --check "$TMP/job.cfg" --set output.dir="$TMP/first" >"$TMP/check" 2>&1; }
sbatch_check
check "gdmpi.sbatch --check: a finished job submitted again is refused (status 2), naming output.dir" \
    refused $?
SLURM_RESTART_COUNT=1 sbatch_check
check "gdmpi.sbatch --check on a requeue: it resumes (train.resume=auto on the command line)" \
    grep -q 'run.*--set train.resume=auto' "$TMP/check"
