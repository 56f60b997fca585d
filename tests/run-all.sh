#!/bin/sh
# Runs every test: CMocka unit suites, MPI tests, end-to-end tests. Each reports
# TAP-style "ok" / "not ok" lines; this script counts them and ends with one line
# "N passed, N failed". A suite that exits non-zero without reporting a failure
# (a crash) counts as one failure.
set -u
BUILD=${BUILD:-build}
GDMPI=${GDMPI:-$(pwd)/gdmpi}
export BUILD GDMPI CMOCKA_MESSAGE_OUTPUT=TAP
log=$(mktemp)
passed=0
failed=0

run_suite() {
    name=$1
    shift
    start=$(date +%s)
    "$@" >"$log" 2>&1
    status=$?
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $status" >>"$log"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    echo "$name: $p passed, $f failed ($(($(date +%s) - start)) s)"
    if [ "$f" -ne 0 ]; then
        grep -v '^ok ' "$log" | tail -n 40 | sed 's/^/    /'
    fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] && run_suite "unit/$(basename "$t")" "$t"
done
for t in tests/mpi/*.sh tests/e2e/*.sh; do
    [ -f "$t" ] && run_suite "$t" sh "$t"
done
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
