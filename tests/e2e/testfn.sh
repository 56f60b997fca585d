# Test functions: a data-less run writes every step to trajectory.csv, and a resumed one
# (at an epoch's end or in mid-epoch) the same file as a run never stopped; Adam reaches
# the Rosenbrock minimum in its documented budget; a model.start that is not exactly two
# numbers is refused; the plot script draws the paths.
. tests/lib.sh
mpi 1 configs/testfn-rosenbrock.cfg --set output.dir="$TMP/rb"
check "testfn run exits 0 without any data file" [ $? -eq 0 ]
rows_ok() { [ "$(wc -l <"$TMP/rb/trajectory.csv")" -eq 3002 ]; } # header, start, 3000 steps
check "trajectory.csv has the start and every one of the 3000 steps" rows_ok
at_minimum() {
    tail -n 1 "$TMP/rb/trajectory.csv" | awk -F, '{dx=$2-1; dy=$3-1; exit !(dx*dx < 1e-4 && dy*dy < 1e-4)}'
}
check "adam from (-1.5, 2) ends within 1e-2 of (1, 1) on Rosenbrock" at_minimum
# refused STATUS START: exit status 2 and a message naming model.start and its value.
refused() { [ "$1" -eq 2 ] && grep -qF "model.start = '$2'" "$TMP/out"; }
for start in nowhere abc 1,2,3 1, nan,1; do
    mpi 1 configs/testfn-rosenbrock.cfg --set output.dir="$TMP/bad" --set model.start="$start"
    check "model.start = '$start' is a config error naming the key" refused $? "$start"
done

# Resume: trajectory.csv keeps the steps before the checkpoint (copied from the file the
# resumed run replaces) and, the resume being bit for bit, equals the uninterrupted run's.
tf() {
    dir=$1
    shift
    mpi 1 configs/testfn-rosenbrock.cfg --set train.epochs=3 --set output.dir="$TMP/$dir" "$@"
}
# every_step DIR N: the rows are steps 0..N, each once, in order.
every_step() {
    awk -F, -v n="$2" 'NR>1 && $1 != NR-2 {bad=1} END {exit bad || NR != n + 2}' "$TMP/$1/trajectory.csv"
}
tf tfull
check "testfn, 3 epochs uninterrupted: steps 0..300 in trajectory.csv" every_step tfull 300
tf tep --set train.epochs=2 --set output.checkpoint_every=1
check "testfn, 2 epochs with checkpoint_every = 1: steps 0..200" every_step tep 200
tf tep --set output.checkpoint_every=1 --set train.resume=auto
check "testfn resumed after epoch 2 exits 0" [ $? -eq 0 ]
check "... from step 200" grep -q "resuming from .*after epoch 2, step 200" "$TMP/out"
check "... and trajectory.csv has steps 0..300, each once" every_step tep 300
check "... the same bytes as the uninterrupted run's" cmp -s "$TMP/tep/trajectory.csv" "$TMP/tfull/trajectory.csv"
tf tmid --set train.max_steps=150 --set output.checkpoint_every=50s
tf tmid --set output.checkpoint_every=50s --set train.resume=auto
check "testfn resumed in mid-epoch (step 150): the uninterrupted trajectory.csv" \
    cmp -s "$TMP/tmid/trajectory.csv" "$TMP/tfull/trajectory.csv"
tf tnew --set train.resume="$TMP/tep/checkpoint.h5"
check "resumed into another output.dir: the rows come from the checkpoint's directory" \
    cmp -s "$TMP/tnew/trajectory.csv" "$TMP/tfull/trajectory.csv"
tf tep --set output.checkpoint_every=1 --set train.resume=auto
check "a resume with no step left keeps trajectory.csv whole" \
    cmp -s "$TMP/tep/trajectory.csv" "$TMP/tfull/trajectory.csv"
tf tep --set output.checkpoint_every=1 --set train.resume=auto --set optimizer.type=sgd
refused=$?
check "a refused resume (another optimizer: status $refused) leaves trajectory.csv as it was" \
    sh -c "[ $refused -eq 2 ] && cmp -s '$TMP/tep/trajectory.csv' '$TMP/tfull/trajectory.csv'"
# a fresh run into tmid: output.overwrite removes the old run's trajectory.csv and checkpoint
tf tmid --set train.epochs=2 --set output.checkpoint_every=1 --set output.overwrite=true
rm "$TMP/tmid/trajectory.csv"
tf tmid --set output.checkpoint_every=1 --set train.resume=auto
check "without the previous trajectory.csv a resume warns" \
    grep -q "warning: trajectory.csv: cannot read .*steps 0..200 before the resume" "$TMP/out"
check "... and writes the steps it takes, from 201" [ "$(sed -n 2p "$TMP/tmid/trajectory.csv" | cut -d, -f1)" = 201 ]
timeout 120 /usr/bin/python3 scripts/plot-trajectories --gdmpi "$GDMPI" --function saddle \
    --optimizers sgd,adam --steps 50 -o "$TMP/saddle.png" >/dev/null 2>&1
png() { [ "$(head -c 4 "$TMP/saddle.png" | tail -c 3)" = PNG ]; }
check "plot-trajectories draws the saddle paths to a PNG" png
