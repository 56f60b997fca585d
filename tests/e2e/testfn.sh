# Test functions: a data-less run writes every step to trajectory.csv; Adam reaches the
# Rosenbrock minimum in its documented budget; the plot script draws the paths.
. tests/lib.sh
mpi 1 configs/testfn-rosenbrock.cfg --set output.dir="$TMP/rb"
check "testfn run exits 0 without any data file" [ $? -eq 0 ]
rows_ok() { [ "$(wc -l <"$TMP/rb/trajectory.csv")" -eq 3002 ]; } # header, start, 3000 steps
check "trajectory.csv has the start and every one of the 3000 steps" rows_ok
at_minimum() {
    tail -n 1 "$TMP/rb/trajectory.csv" | awk -F, '{dx=$2-1; dy=$3-1; exit !(dx*dx < 1e-4 && dy*dy < 1e-4)}'
}
check "adam from (-1.5, 2) ends within 1e-2 of (1, 1) on Rosenbrock" at_minimum
mpi 1 configs/testfn-rosenbrock.cfg --set output.dir="$TMP/bad" --set model.start=nowhere
check "a bad model.start is a config error" grep -q "model.start = 'nowhere'" "$TMP/out"
/usr/bin/python3 scripts/plot-trajectories --gdmpi "$GDMPI" --function saddle \
    --optimizers sgd,adam --steps 50 -o "$TMP/saddle.png" >/dev/null 2>&1
png() { [ "$(head -c 4 "$TMP/saddle.png" | tail -c 3)" = PNG ]; }
check "plot-trajectories draws the saddle paths to a PNG" png
