# scripts/slurm/gdmpi.sbatch against a real Slurm: slurmctld, slurmd and munged on this
# machine (scripts/slurm/local-cluster.sh, which installs Debian's slurm-wlm and munge
# when missing). Jobs are submitted with sbatch --wait on generated data and their
# outputs checked; gdmpi stops with a checkpoint before a time limit and resumes from it;
# a stand-in for gdmpi checks that a requeued job resumes.
. tests/lib.sh

SBATCH_SCRIPT=$(pwd)/scripts/slurm/gdmpi.sbatch
CLUSTER=$(pwd)/scripts/slurm/local-cluster.sh

# The script's own checks need no Slurm.
gen --task softmax --rows 2000 --features 10 --classes 3 --seed 1 -o "$TMP/X.h5" \
    --val "$TMP/V.h5" --val-rows 500
cat >"$TMP/job.cfg" <<CFG
[data]
train = $TMP/X.h5
val = $TMP/V.h5
[train]
epochs = 5
batch_size = 32
CFG
GDMPI=$GDMPI bash "$SBATCH_SCRIPT" --check "$TMP/job.cfg" >"$TMP/check" 2>&1
check "gdmpi.sbatch --check accepts a good config" grep -q 'config and command are fine' "$TMP/check"
GDMPI=$GDMPI bash "$SBATCH_SCRIPT" --check "$TMP/job.cfg" --set train.epoch=3 >"$TMP/check" 2>&1
status=$?
check "gdmpi.sbatch --check: a bad key ends it with status 2 (was $status)" [ "$status" -eq 2 ]
check "gdmpi.sbatch --check: the message names the key" grep -q 'train.epoch' "$TMP/check"
GDMPI=$GDMPI bash "$SBATCH_SCRIPT" --check "$TMP/nothere.cfg" >"$TMP/check" 2>&1
check "gdmpi.sbatch --check: a missing config is named" grep -q "nothere.cfg' not found" "$TMP/check"

if [ "$(id -u)" -ne 0 ]; then
    echo "ok - Slurm jobs # SKIP needs root to run slurmctld and slurmd"
    exit 0
fi
started=0
if [ -z "$("$CLUSTER" status 2>/dev/null | grep 'slurmctld: running')" ]; then
    if ! "$CLUSTER" start >"$TMP/start" 2>&1; then
        notok "local Slurm starts (scripts/slurm/local-cluster.sh start)"
        sed 's/^/# /' "$TMP/start"
        "$CLUSTER" stop >/dev/null 2>&1
        exit 1
    fi
    started=1
fi
trap '[ $started -eq 1 ] && "$CLUSTER" stop >/dev/null 2>&1; rm -rf "$TMP"' EXIT
eval "$("$CLUSTER" env)"
ok "local Slurm is up: $(sinfo -h -o 'partition %P, %D node(s), %c cpus, %t' | head -n 1)"
cd "$TMP" || exit 1

sbatch --test-only "$SBATCH_SCRIPT" job.cfg >test-only 2>&1
check "sbatch --test-only accepts gdmpi.sbatch" grep -q 'to start at' test-only

# A real job with each launcher: the outputs of 2 ranks, the numbers of a local 2-rank run.
mpi 2 job.cfg --set output.dir="$TMP/local2"
same_as_local() {
    paste -d, "$1/metrics.csv" "$TMP/local2/metrics.csv" | awk -F, '
        NR == 1 { for (i = 1; i <= NF / 2; i++) if ($i == "train_loss") c = i; next }
        { a = $c; b = $(c + NF / 2); d = a - b; if (d < 0) d = -d; if (d > 1e-5 * a) bad = 1; n++ }
        END { exit !(n == 5 && !bad) }'
}
for launcher in mpirun srun; do
    GDMPI=$GDMPI GDMPI_LAUNCHER=$launcher timeout 300 sbatch --wait -n 2 -o "$launcher.out" \
        "$SBATCH_SCRIPT" job.cfg --set output.dir="$TMP/sb-$launcher" >/dev/null 2>&1
    status=$?
    check "sbatch --wait, $launcher: the job succeeds (status $status)" [ "$status" -eq 0 ]
    [ "$status" -eq 0 ] || tail -n 15 "$launcher.out" | sed 's/^/# /'
    outputs() {
        grep -q '"status": "ok"' "$1/summary.json" && grep -q '"ranks_total": 2' "$1/summary.json" &&
            [ -s "$1/model.h5" ] && [ "$(wc -l <"$1/metrics.csv")" -eq 6 ]
    }
    check "sbatch, $launcher: summary.json ok with 2 ranks, 5 epochs, model.h5" outputs "sb-$launcher"
    check "sbatch, $launcher: the same loss trajectory as 2 local ranks" same_as_local "sb-$launcher"
done

# A stand-in for gdmpi: `config` accepts everything but train.resume (unless FAKE_RESUME
# is set); training logs its arguments to FAKE_LOG and waits.
cat >fake-gdmpi <<'FAKE'
#!/bin/sh
if [ "$1" = config ]; then
    case "$*" in *train.resume*) [ -n "${FAKE_RESUME:-}" ] || exit 2 ;; esac
    exit 0
fi
r=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-$SLURM_PROCID}}
echo "rank $r: started with $*" >>"$FAKE_LOG"
i=0
while [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
FAKE
chmod +x fake-gdmpi

# The time limit, with gdmpi itself: Slurm signals the batch shell (B:TERM) before it, the
# script passes the stop to every rank exactly once (a second signal would end gdmpi at
# once): SIGUSR1 through mpirun, SIGTERM to the job step's tasks for srun. The ranks
# checkpoint, write their outputs and end the job with status 5, long before the script's
# fallback (GDMPI_TERM_GRACE = 10 s); the checkpoint then resumes. The header's TERM@120
# is replaced by @45 with a 1-minute limit, so that the signal comes within seconds; an
# MLP epoch of about 50 ms keeps metrics.csv small.
gen --task softmax --rows 20000 --features 20 --classes 3 --seed 2 -o "$TMP/L.h5"
cat >long.cfg <<CFG
[data]
train = $TMP/L.h5
[model]
type = mlp
hidden = 256
[train]
epochs = 100000
batch_size = 16
CFG
for launcher in mpirun srun; do
    case $launcher in mpirun) sig=SIGUSR1 ;; srun) sig=SIGTERM ;; esac
    out=$TMP/limit-$launcher
    GDMPI=$GDMPI GDMPI_LAUNCHER=$launcher GDMPI_TERM_GRACE=10 timeout 300 sbatch --wait -n 2 \
        --time=1 --signal=B:TERM@45 -o "limit-$launcher.out" "$SBATCH_SCRIPT" long.cfg \
        --set output.dir="$out" >/dev/null 2>&1
    status=$?
    stopped() {
        [ "$status" -eq 5 ] && [ -s "$out/checkpoint.h5" ] &&
            grep -q '"status": "interrupted"' "$out/summary.json" &&
            grep -q '"stop_reason": "signal"' "$out/summary.json" &&
            grep -q "stopped by $sig at epoch .*checkpoint written" "limit-$launcher.out"
    }
    check "time limit, $launcher: $sig reaches the ranks, they checkpoint and exit 5 (was $status)" stopped
    stopped || tail -n 15 "limit-$launcher.out" | sed 's/^/# /'
    epochs=$(($(wc -l <"$out/metrics.csv") - 1))
    mpi 2 long.cfg --set output.dir="$out" --set train.resume=auto --set train.epochs=$((epochs + 1))
    resumed() { grep -q '"status": "ok"' "$out/summary.json" && [ "$(wc -l <"$out/metrics.csv")" -eq $((epochs + 2)) ]; }
    check "time limit, $launcher: the run resumes from that checkpoint to epoch $((epochs + 1))" resumed
done

# Requeue: the job runs again (SLURM_RESTART_COUNT = 1) and resumes (train.resume = auto).
job=$(GDMPI=$TMP/fake-gdmpi FAKE_RESUME=1 FAKE_LOG=$TMP/requeue.log GDMPI_TERM_GRACE=2 \
    sbatch --parsable -n 2 -o requeue.out "$SBATCH_SCRIPT" job.cfg)
wait_for requeue.log '^rank .: started' 2
scontrol requeue "$job"
# A requeued job waits a while (about 2 minutes) before it may start again; let it
# start now (120 s at most).
i=0
while [ "$(count requeue.log '^rank .: started')" -lt 4 ] && [ $i -lt 120 ]; do
    scontrol update JobId="$job" StartTime=now >/dev/null 2>&1
    sleep 1
    i=$((i + 1))
done
check "requeue: the job runs again and says it resumes" \
    grep -q 'requeued (restart 1): resuming from the checkpoint' requeue.out
resumes() { [ "$(count requeue.log '^rank .: started with .*--set train.resume=auto')" -eq 4 ]; }
check "requeue: every rank of both runs gets --set train.resume=auto" resumes
resumes || tail -n 15 requeue.out requeue.log | sed 's/^/# /'
scancel "$job"
