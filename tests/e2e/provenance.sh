# summary.json's provenance: start and end time (UTC, ISO 8601), the hosts with their rank
# counts, argv, the launcher, gdmpi's version and git commit; reals in their shortest
# round-trip form.
. tests/lib.sh

fixture sm softmax rows=400 features=5 classes=3 noise=0.1 seed=7 val_rows=100
cfg job sm train.epochs=1 train.batch_size=32 optimizer.lr=0.1 data.scale=0.1

run two 2
check "a run at np=2 exits 0" [ $? -eq 0 ]
check "started and ended are UTC ISO 8601, in order, and ended within the last 5 minutes" holds two \
    "all(__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', s[k]) for k in ('started', 'ended')) \
     and s['started'] <= s['ended'] \
     and abs(__import__('datetime').datetime.strptime(s['ended'], '%Y-%m-%dT%H:%M:%S.%fZ').timestamp() \
             - __import__('calendar').timegm(__import__('time').gmtime())) < 300"
host=$(hostname)
check "hosts lists this host once, with its 2 ranks" holds two "s['hosts'] == [{'name': '$host', 'ranks': 2}]"
check "argv is the command line as given" holds two \
    "s['argv'] == ['$GDMPI', '$TMP/job.cfg', '--set', 'output.dir=$TMP/two']"
check "the launcher is mpirun" holds two "s['launcher'] == 'mpirun'"
check "versions name gdmpi's version" holds two "s['versions']['gdmpi'] == '$("$GDMPI" --version | sed -n '1s/^gdmpi \([^ ]*\).*/\1/p')'"
if commit=$(git rev-parse --short=12 HEAD 2>/dev/null); then
    check "versions.commit is the commit built from ($commit, -dirty or not)" holds two \
        "s['versions']['commit'] in ('$commit', '$commit-dirty')"
else
    skip "versions.commit is the commit built from" "not a git checkout"
fi
check "reals are in their shortest round-trip form (lr 0.1, scale 0.1)" holds two \
    "s['config']['optimizer']['lr'] == '0.1' and s['config']['data']['scale'] == '0.1'"

# Without mpirun the launcher is none; under srun (SLURM_STEP_ID) it is srun.
"$GDMPI" "$TMP/job.cfg" --set output.dir="$TMP/alone" >/dev/null 2>&1
check "a process started by hand says launcher none, one host with 1 rank" holds alone \
    "s['launcher'] == 'none' and s['hosts'] == [{'name': '$host', 'ranks': 1}]"
env SLURM_STEP_ID=0 "$GDMPI" "$TMP/job.cfg" --set output.dir="$TMP/srun" >/dev/null 2>&1
check "SLURM_STEP_ID without mpirun says launcher srun" holds srun "s['launcher'] == 'srun'"
