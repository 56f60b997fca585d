#!/bin/sh
# make test-cluster: the cluster tests, kept out of `make test` because they need root,
# network namespaces and a local Slurm (which they install and start themselves):
#   tests/cluster/multihost.sh  3 namespace hosts, mpirun over TCP, hosts cut in mid-run
#   tests/cluster/slurm.sh      gdmpi.sbatch against a real slurmctld + slurmd
# Each prints "ok" / "not ok" lines (a skip is "ok - ... # SKIP reason"); this runner
# counts them like tests/run-all.sh and ends with one line "N passed, N failed".
# Run from the top of the tree; GDMPI is the binary (default ./gdmpi).
set -u
GDMPI=${GDMPI:-$(pwd)/gdmpi}
BUILD=${BUILD:-build}
export GDMPI BUILD
log=$(mktemp)
passed=0
failed=0
[ $# -gt 0 ] || set -- tests/cluster/multihost.sh tests/cluster/slurm.sh
for t in "$@"; do
    start=$(date +%s)
    sh "$t" >"$log" 2>&1
    status=$?
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $t exited with status $status" >>"$log"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    echo "$t: $p passed, $f failed ($(($(date +%s) - start)) s)"
    sed 's/^/    /' "$log"
done
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
