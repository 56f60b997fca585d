#!/bin/sh
# Runs the tests: CMocka unit suites, MPI tests, end-to-end tests. Each reports TAP-style
# "ok" / "not ok" lines; "ok ... # SKIP reason" (a feature probe that found the feature or
# a tool absent) counts as skipped, not passed. This script counts them and ends with one
# line "N passed, N failed, N skipped"; it exits non-zero when anything failed. A suite
# that exits non-zero without reporting a failure (a crash) counts as one failure.
#
# Usage: tests/run-all.sh [SUITE]     (make test [SUITE=...])
#   no SUITE           every suite
#   unit | mpi | e2e   every suite of that kind
#   anything else      the suites whose name contains it: test_optim, checkpoint (both
#                      unit/test_checkpoint and tests/e2e/checkpoint.sh), e2e/checkpoint
# Suite names: unit/test_NAME (the CMocka binaries), tests/mpi/NAME.sh, tests/e2e/NAME.sh.
set -u
BUILD=${BUILD:-build}
GDMPI=${GDMPI:-$(pwd)/gdmpi}
SUITE=${1:-}
export BUILD GDMPI CMOCKA_MESSAGE_OUTPUT=TAP
# Every MPI_Init would otherwise open the cm PML and probe its MTLs (PSM waits about 0.2 s
# on a machine without that hardware) before settling on ob1, shared memory and TCP, which
# is what the tests run on: a fifth of a second per process (376 s of the plain pass's
# suites became 226 s with it).
# Only here: a site's own choice (ucx on a fast fabric) stays in force for make run, bench.
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
log=$(mktemp)
passed=0
failed=0
skipped=0
ran=0

# wanted NAME: NAME is one of the suites SUITE selects.
wanted() {
    case $SUITE in
    "") return 0 ;;
    unit | mpi | e2e) case $1 in "$SUITE"/* | tests/"$SUITE"/*) return 0 ;; esac ;;
    *) case $1 in *"$SUITE"*) return 0 ;; esac ;;
    esac
    return 1
}

run_suite() {
    name=$1
    shift
    wanted "$name" || return 0
    ran=$((ran + 1))
    start=$(date +%s)
    "$@" >"$log" 2>&1
    status=$?
    s=$(grep -c '^ok .*# *SKIP' "$log")
    p=$(($(grep -c '^ok ' "$log") - s))
    f=$(grep -c '^not ok ' "$log")
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $status" >>"$log"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    echo "$name: $p passed, $f failed, $s skipped ($(($(date +%s) - start)) s)"
    if [ "$f" -ne 0 ]; then
        grep -v '^ok ' "$log" | tail -n 40 | sed 's/^/    /'
    fi
    grep '^ok .*# *SKIP' "$log" | sed 's/^/    /'
}

for t in "$BUILD"/tests/test_*; do
    case $t in *.d) continue ;; esac
    [ -x "$t" ] && run_suite "unit/$(basename "$t")" "$t"
done
for t in tests/mpi/*.sh tests/e2e/*.sh; do
    [ -f "$t" ] && run_suite "$t" sh "$t"
done
rm -f "$log"
if [ "$ran" -eq 0 ]; then
    echo "no suite matches SUITE=$SUITE"
    failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
