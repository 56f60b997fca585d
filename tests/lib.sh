# Shared helpers for the shell tests (tests/mpi/*.sh, tests/e2e/*.sh).
# Every check prints "ok - NAME" or "not ok - NAME"; tests/run-all.sh counts them.
# Environment: GDMPI (the binary), BUILD (the build dir), TMP (this script's scratch dir).

set -u
: "${GDMPI:=$(pwd)/gdmpi}"
: "${BUILD:=build}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Quiet Open MPI's own help banners on abort; keep the job's messages.
export OMPI_MCA_orte_abort_print_stack=0 OMPI_MCA_btl_base_warn_component_unused=0
# Failed runs: kill leftover processes at once instead of after 1 s (keeps tests quick).
export OMPI_MCA_odls_base_sigkill_timeout=0
# Skip the cm PML's probe at each MPI_Init (0.2 s here); tests/run-all.sh says why.
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
# The sanitizer pass (make test SANITIZE=...): AddressSanitizer and UBSan check every
# process of every suite, LeakSanitizer only the unit tests' and tests/e2e/leaks.sh's
# (GDMPI_LEAK_CHECK=1), which runs every mode and command once. A leak check at exit,
# with the slow unwinder that tests/lsan.supp needs to name Open MPI's own allocations,
# made each process several times slower (tests/e2e/eval.sh: 68 s against 16 s).
if [ -n "${GDMPI_SANITIZE:-}" ] && [ "${GDMPI_LEAK_CHECK:-0}" != 1 ]; then
    export ASAN_OPTIONS=fast_unwind_on_malloc=1:detect_leaks=0
fi
TMP=$(mktemp -d /tmp/gdmpi-test-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# dash runs no EXIT trap when a signal kills it: exit instead, so that the trap runs.
trap 'exit 130' INT TERM

# ranks LIST: the rank counts a loop repeats a check at. The sanitizer pass (make test
# SANITIZE=..., which exports GDMPI_SANITIZE) takes only the largest: every process
# under AddressSanitizer starts about twice as slowly, and the plain pass already runs
# each count, so repeating them there would double CI's time for little new coverage.
ranks() {
    if [ -n "${GDMPI_SANITIZE:-}" ]; then echo "${1##* }"; else echo "$1"; fi
}

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }

# check NAME CMD...: ok when CMD exits 0.
check() {
    name=$1
    shift
    if "$@"; then ok "$name"; else notok "$name"; fi
}

# mpi NP ARGS...: runs gdmpi under mpirun with a 60 s limit; output in $TMP/out, status in $?.
mpi() {
    np=$1
    shift
    timeout -k 5 60 mpirun --oversubscribe -np "$np" "$GDMPI" "$@" >"$TMP/out" 2>&1
}

# gen ARGS...: gdmpi data gen, quietly.
gen() { "$GDMPI" data gen "$@" >/dev/null; }

# fixture NAME TASK [rows=N features=D classes=K noise=S seed=N val_rows=M]: generated
# data in $TMP/NAME.h5 (`gdmpi data gen --task TASK --rows N ...`), with val_rows also
# the validation rows in $TMP/NAME-val.h5. Made once: a second call reuses the files.
fixture() {
    fx_out=$TMP/$1.h5 fx_val=$TMP/$1-val.h5 fx_args="--task $2"
    shift 2
    [ -e "$fx_out" ] && return 0
    for fx_kv; do
        [ "${fx_kv%%=*}" = val_rows ] && fx_args="$fx_args --val $fx_val"
        fx_args="$fx_args --$(echo "${fx_kv%%=*}" | tr _ -) ${fx_kv#*=}"
    done
    # shellcheck disable=SC2086 # $TMP and the values have no spaces
    gen $fx_args -o "$fx_out"
}

# cfg NAME FIXTURE [section.key=value ...]: writes the INI config $TMP/NAME.cfg, training
# on fixture FIXTURE (data.train, and data.val when it has validation rows; FIXTURE "-":
# no [data]) with the keys given, each under its [section].
cfg() {
    cf_file=$TMP/$1.cfg cf_fix=$2
    shift 2
    {
        if [ "$cf_fix" != - ]; then
            echo "data.train=$TMP/$cf_fix.h5"
            [ ! -e "$TMP/$cf_fix-val.h5" ] || echo "data.val=$TMP/$cf_fix-val.h5"
        fi
        [ $# -eq 0 ] || printf '%s\n' "$@"
    } | awk '{
        dot = index($0, "."); eq = index($0, "=")
        sec = substr($0, 1, dot - 1); line = substr($0, dot + 1, eq - dot - 1) " = " substr($0, eq + 1)
        if (!(sec in body)) order[++n] = sec
        body[sec] = body[sec] line "\n"
    } END { for (i = 1; i <= n; i++) printf "[%s]\n%s", order[i], body[order[i]] }' >"$cf_file"
}

# refused STATUS NEEDLE CMD...: gdmpi CMD... exits with STATUS and NEEDLE in its message,
# never "unknown error".
refused() {
    rf_want=$1 needle=$2
    shift 2
    "$GDMPI" "$@" >"$TMP/rej" 2>&1
    status=$?
    if [ $status -eq "$rf_want" ] && grep -qF -- "$needle" "$TMP/rej" && ! grep -q "unknown error" "$TMP/rej"; then
        ok "gdmpi $*: status $rf_want: $needle"
    else
        notok "gdmpi $*: status $status; wanted $rf_want and: $needle"
        sed 's/^/# /' "$TMP/rej" | head -n 4
    fi
}

# train_kinds KIND...: trains each model type briefly at np=1 on float data into $TMP/KIND
# (config $TMP/KIND.cfg) on the fixtures lin (linreg), bin (logreg) and cls (softmax, 3
# classes), each with validation rows. KIND: linreg, logreg, softmax; mlp (relu, softmax
# output), mlp-tanh, mlp-bn, mlp-sigmoid-bn, mlp-linear (tanh, linear output); cnn (on the
# fixture img: 6x6 one-channel images, 3 classes; a strided conv, both pools, an fc).
train_kinds() {
    fixture lin linreg rows=600 features=5 noise=0.1 seed=11 val_rows=200
    fixture bin logreg rows=600 features=5 noise=0.1 seed=12 val_rows=200
    fixture cls softmax rows=600 features=5 classes=3 noise=0.1 seed=13 val_rows=200
    tk_mlp="model.type=mlp model.hidden=7,4"
    for kind; do
        case $kind in
        linreg) set -- lin model.type=linreg ;;
        logreg) set -- bin model.type=logreg ;;
        softmax) set -- cls model.type=softmax ;;
        mlp) set -- cls $tk_mlp ;;
        mlp-tanh) set -- cls $tk_mlp model.activation=tanh ;;
        mlp-bn) set -- cls $tk_mlp model.batchnorm=true ;;
        mlp-sigmoid-bn) set -- bin $tk_mlp model.output=sigmoid model.batchnorm=true ;;
        mlp-linear) set -- lin $tk_mlp model.output=linear model.activation=tanh ;;
        cnn)
            fixture img softmax rows=600 features=36 classes=3 noise=0.1 seed=14 val_rows=200
            set -- img model.type=cnn model.layers=conv3x3x4p1,pool2,conv2x2x3,avgpool2s1,fc8 ;;
        cnn-bn)
            fixture img softmax rows=600 features=36 classes=3 noise=0.1 seed=14 val_rows=200
            set -- img model.type=cnn model.layers=conv3x3x4s2p1,maxpool2s1,fc8 model.batchnorm=true \
                model.dropout=0.2 model.activation=tanh ;;
        *) notok "train_kinds: unknown kind $kind"; continue ;;
        esac
        cfg "$kind" "$@" train.epochs=2 train.batch_size=16 optimizer.lr=0.05 \
            output.dir="$TMP/$kind"
        mpi 1 "$TMP/$kind.cfg" || { notok "$kind trains"; sed 's/^/# /' "$TMP/out" | tail -n 3; }
    done
}

# skip NAME REASON: a TAP skip (a feature or tool this run lacks); run-all counts it apart.
skip() { echo "ok - $1 # SKIP $2"; }

# csv_last COLUMN FILE: the named column of the last row of a CSV file.
csv_last() {
    awk -F, -v col="$1" 'NR==1{for(i=1;i<=NF;i++) if($i==col) c=i; next} {v=$c} END{print v}' "$2"
}

# gt A B: A > B as numbers.
gt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 > b+0)}'; }

# mpitest NP PROGRAM ARGS...: runs an MPI test program that prints ok/not ok lines from
# rank 0; a crash or hang (60 s) is reported as a failure rather than lost.
mpitest() {
    np=$1
    shift
    timeout -k 5 60 mpirun --oversubscribe -np "$np" "$@" >"$TMP/mpitest" 2>&1
    status=$?
    grep -E '^(not )?ok' "$TMP/mpitest"
    if [ "$status" -ne 0 ]; then
        notok "$(basename "$1") at np=$np exited with status $status"
        tail -n 5 "$TMP/mpitest" | sed 's/^/# /'
    fi
}

# count FILE PATTERN: lines of FILE matching PATTERN (0 when there is no FILE yet).
count() {
    n=$(grep -c "$2" "$1" 2>/dev/null)
    echo "${n:-0}"
}
# wait_for FILE PATTERN N [SECS [PID]]: until FILE has N lines matching PATTERN (SECS s at
# most, 120 by default; no longer than process PID lives, when given).
wait_for() {
    i=0
    while [ "$(count "$1" "$2")" -lt "$3" ] && [ $i -lt $((${4:-120} * 10)) ] &&
        { [ -z "${5:-}" ] || kill -0 "$5" 2>/dev/null; }; do
        sleep 0.1
        i=$((i + 1))
    done
    [ "$(count "$1" "$2")" -ge "$3" ]
}

# descendants PID: every process below PID (from /proc: field 4 of stat is the parent).
descendants() {
    cat /proc/[0-9]*/stat 2>/dev/null | sed -n 's/^\([0-9]*\) (.*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' |
        awk -v root="$1" '
        { parent[$1] = $2 }
        END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]
                                  if (q == root && p != root) print p } }'
}
# rank_pid ROOT R: the gdmpi process of world rank R below process ROOT (e.g. mpirun's
# timeout, $!), or nothing.
rank_pid() {
    for p in $(descendants "$1"); do
        if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qx "OMPI_COMM_WORLD_RANK=$2" &&
            [ "$(cat "/proc/$p/comm" 2>/dev/null)" = gdmpi ]; then
            echo "$p"
            return
        fi
    done
}

# The helpers below work on $TMP/job.cfg, which a script writes first.
PY=/usr/bin/python3

# run NAME NP [--set ...]: trains $TMP/job.cfg at NP ranks into $TMP/NAME.
run() {
    name=$1 np=$2
    shift 2
    mpi "$np" "$TMP/job.cfg" --set output.dir="$TMP/$name" "$@"
}

# same_run A B: the two runs' metrics.csv (train_loss, val_loss, samples; relative) and
# model.h5 parameters agree within 1e-5, on the same number of rows.
same_run() {
    $PY - "$TMP/$1" "$TMP/$2" <<'PYEOF'
import sys, csv, h5py, numpy as np
a, b = sys.argv[1:3]
rows = [list(csv.DictReader(open(d + "/metrics.csv"))) for d in (a, b)]
assert len(rows[0]) == len(rows[1]) > 0, (len(rows[0]), len(rows[1]))
for col in ("train_loss", "val_loss", "samples"):
    for x, y in zip(*rows):
        u, v = float(x[col]), float(y[col])
        assert abs(u - v) <= 1e-5 * abs(u), (col, u, v)
p, q = (h5py.File(d + "/model.h5", "r")["params"][()] for d in (a, b))
assert np.abs(p - q).max() <= 1e-5, np.abs(p - q).max()
PYEOF
}

# holds RUN EXPR: a Python expression on $TMP/RUN/summary.json (s; its "ps" member is p)
# is true; on failure it prints the summary without the config.
holds() {
    $PY - "$TMP/$1/summary.json" "$2" <<'PYEOF'
import sys, json
s = json.load(open(sys.argv[1]))
p = s.get("ps", {})
h = s.get("hogwild", {})
ok = eval("(" + sys.argv[2] + ")")
sys.exit(0 if ok else print("#", json.dumps({k: v for k, v in s.items() if k != "config"})[:700]) or 1)
PYEOF
}

# expect NAME STATUS NEEDLE NP ARGS...: a failing run of $TMP/job.cfg into $TMP/NAME ends
# within 10 s (it never hangs) with that exit status and message.
expect() {
    name=$1 want=$2 needle=$3 np=$4
    shift 4
    start=$(date +%s)
    timeout -k 2 20 mpirun --oversubscribe -np "$np" "$GDMPI" "$TMP/job.cfg" \
        --set output.dir="$TMP/$name" "$@" >"$TMP/out" 2>&1
    status=$? took=$(($(date +%s) - start))
    if [ $status -eq "$want" ] && [ $took -le 10 ] && grep -qF -- "$needle" "$TMP/out"; then
        ok "$name: exit $want within 10 s: $needle"
    else
        notok "$name: status $status after ${took}s; wanted $want and: $needle"
        sed 's/^/# /' "$TMP/out" | head -n 6
    fi
}

# diverged RUN: summary.json of $TMP/RUN says it diverged, and there is no model.h5.
diverged() {
    grep -q '"status": "diverged"' "$TMP/$1/summary.json" && [ ! -e "$TMP/$1/model.h5" ]
}
