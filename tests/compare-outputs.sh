#!/bin/sh
# Before/after comparison of two gdmpi builds (issue 13's promise for a refactoring): on
# every configs/**/*.cfg, with the same seed and the same short-run overrides, both write
# the same model.h5 and the same non-timing columns of metrics.csv (epoch, step, samples,
# train_loss, val_loss, val_acc, lr).
#
# Usage: tests/compare-outputs.sh REF_GDMPI NEW_GDMPI
#        tests/compare-outputs.sh --rev GITREV [NEW_GDMPI]    (make compare REF=GITREV)
# --rev builds the reference from GITREV in a temporary `git worktree` (make BUILD=... into
# a temporary directory, removed at the end); NEW_GDMPI defaults to ./gdmpi. Run it from
# the repository's top directory. Not part of `make test` (a few minutes).
#
# Data: configs/ name data/fmnist-{train,test}.h5 (`make data-fmnist`), data/{linreg,logreg}-
# {train,val}.h5 (`make data-gen`), made here with `make` when missing, and
# data/arch-{train,val}.h5 (the command in configs/architectures/'s header), generated into
# the scratch directory. Both binaries run in that directory, whose data/ has them all.
#
# Runs: each config at np = 2 workers + its parallel.servers (mpirun --oversubscribe;
# model.type = testfn at np = 1), train.epochs=2 (testfn: 3) and train.max_steps=40 for the
# Fashion-MNIST configs (mid-epoch: one metrics row), each binary into its own output.dir.
#
# model.h5: compared with cmp first; two runs of the same binary differ in it anyway, only
# in the object headers' modification times (HDF5 records them by default, to the second),
# so a file that cmp finds different is compared by content: every dataset's raw bytes,
# dtype and shape and every attribute (h5py). "same" means identical content, to the bit.
#
# Asynchronous modes (ps-async, easgd-async, hogwild) are not deterministic: their losses,
# parameters, steps and samples depend on timing. For them only that both runs finish
# (exit 0, a model.h5) and the epoch column are compared; they print "same (async: ...)".
#
# Prints one line per config, "same" or "DIFFERENT: what"; exits 1 when any deterministic
# comparison differs or a run fails, 2 on a usage or build error.
set -u
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_base_warn_component_unused=0
PY=/usr/bin/python3
REPO=$(pwd)
usage() { echo "usage: $0 REF_GDMPI NEW_GDMPI | --rev GITREV [NEW_GDMPI]" >&2; exit 2; }

W=$(mktemp -d /tmp/gdmpi-compare-XXXXXX)
cleanup() {
    if [ -d "$W/src" ]; then
        git -C "$REPO" worktree remove --force "$W/src" >/dev/null 2>&1
        git -C "$REPO" worktree prune >/dev/null 2>&1
    fi
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${1:-}" = --rev ]; then
    [ $# -ge 2 ] && [ $# -le 3 ] || usage
    rev=$2 NEW=${3:-$REPO/gdmpi}
    echo "building the reference from $rev ($(git rev-parse --short "$rev^{commit}" 2>/dev/null || echo '?'))"
    git worktree add --detach "$W/src" "$rev" >"$W/build.log" 2>&1 &&
        nice make -C "$W/src" -j2 BUILD="$W/build" BIN="$W/build/gdmpi" all >>"$W/build.log" 2>&1 ||
        { tail -n 20 "$W/build.log" >&2; echo "cannot build $rev" >&2; exit 2; }
    REF=$W/build/gdmpi
else
    [ $# -eq 2 ] || usage
    REF=$1 NEW=$2
fi
for b in "$REF" "$NEW"; do
    [ -x "$b" ] || { echo "$b: not an executable" >&2; exit 2; }
done
case $REF in /*) ;; *) REF=$REPO/$REF ;; esac
case $NEW in /*) ;; *) NEW=$REPO/$NEW ;; esac

# The data, made once; both binaries read the same files.
for f in fmnist-train fmnist-test linreg-train linreg-val logreg-train logreg-val; do
    [ -f "data/$f.h5" ] && continue
    nice make -s data-fmnist data-gen >"$W/data.log" 2>&1 ||
        { tail -n 20 "$W/data.log" >&2; echo "make data-fmnist data-gen failed" >&2; exit 2; }
    break
done
mkdir -p "$W/data"
for f in "$REPO"/data/fmnist-*.h5 "$REPO"/data/linreg-*.h5 "$REPO"/data/logreg-*.h5; do
    ln -s "$f" "$W/data/"
done
"$NEW" data gen --task softmax --rows 20000 --features 20 --classes 5 --noise 0.1 \
    --seed 7 -o "$W/data/arch-train.h5" --val "$W/data/arch-val.h5" --val-rows 2000 >/dev/null ||
    exit 2

# key CFG SECTION KEY: the value of KEY in [SECTION] of CFG (empty when absent).
key() {
    awk -v s="[$2]" -v k="$3" '/^\[/ {in_s = ($1 == s)} in_s && $1 == k && $2 == "=" {print $3}' "$1"
}

# same_model A B: prints what differs between two model.h5 files (nothing: the same).
same_model() {
    cmp -s "$1" "$2" && return
    $PY - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
def walk(path):
    out = {}
    with h5py.File(path, "r") as f:
        def add(name, obj):
            for k, v in obj.attrs.items():
                out[f"{name}@{k}"] = np.asarray(v).tobytes() if not isinstance(v, (str, bytes)) else v
            if isinstance(obj, h5py.Dataset):
                a = obj[()]
                out[name] = (str(obj.dtype), obj.shape, np.asarray(a).tobytes())
        add("/", f)
        f.visititems(add)
    return out
a, b = walk(sys.argv[1]), walk(sys.argv[2])
diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
if diff:
    print("model.h5 (" + ", ".join(diff[:6]) + (", ..." if len(diff) > 6 else "") + ")")
PYEOF
}

# columns FILE COLS: the named columns of a CSV file (comma-separated list), as CSV.
columns() {
    awk -F, -v want="$2" 'NR == 1 { n = split(want, w, ","); for (i = 1; i <= NF; i++) c[$i] = i }
        { line = ""; for (j = 1; j <= n; j++) line = line (j > 1 ? "," : "") (w[j] in c ? $c[w[j]] : "?")
          print line }' "$1"
}
# same_metrics A B COLS: prints which columns differ between two metrics.csv files.
same_metrics() {
    [ -f "$1" ] && [ -f "$2" ] || { echo "metrics.csv missing"; return; }
    columns "$1" "$3" >"$W/a.csv"
    columns "$2" "$3" >"$W/b.csv"
    cmp -s "$W/a.csv" "$W/b.csv" && return
    [ "$(wc -l <"$W/a.csv")" -eq "$(wc -l <"$W/b.csv")" ] ||
        { echo "metrics.csv rows $(($(wc -l <"$W/a.csv") - 1)) vs $(($(wc -l <"$W/b.csv") - 1))"; return; }
    paste -d'|' "$W/a.csv" "$W/b.csv" | awk -F'|' -v cols="$3" '
        { split($1, x, ","); split($2, y, ","); n = split(cols, c, ",")
          for (i = 1; i <= n; i++) if (x[i] != y[i] && !(c[i] in bad)) { bad[c[i]] = NR - 1; order[++m] = c[i] } }
        END { s = ""; for (i = 1; i <= m; i++) s = s (i > 1 ? ", " : "") order[i] " (row " bad[order[i]] ")"
              if (m) print "metrics.csv columns " s }'
}

# run_gdmpi BIN CFG NP OUT ARGS...: one run, 120 s at most; its output in OUT.log.
run_gdmpi() {
    g_bin=$1 g_cfg=$2 g_np=$3 g_out=$4
    shift 4
    (cd "$W" && timeout -k 5 120 nice mpirun --oversubscribe -np "$g_np" "$g_bin" "$g_cfg" \
        --set output.dir="$g_out" "$@" >"$g_out.log" 2>&1)
}

start=$(date +%s)
bad=0
DET=epoch,step,samples,train_loss,val_loss,val_acc,lr
for cfgf in $(find configs -name '*.cfg' | sort); do
    name=$(echo "${cfgf%.cfg}" | tr / -)
    mode=$(key "$cfgf" parallel mode)
    servers=$(key "$cfgf" parallel servers)
    np=$((2 + ${servers:-0}))
    set -- --set train.epochs=2
    case $(key "$cfgf" model type) in testfn) np=1 && set -- --set train.epochs=3 ;; esac
    case $(key "$cfgf" data train) in *fmnist*) set -- "$@" --set train.max_steps=40 ;; esac
    run_gdmpi "$REF" "$REPO/$cfgf" "$np" "$W/ref-$name" "$@"
    rs=$?
    run_gdmpi "$NEW" "$REPO/$cfgf" "$np" "$W/new-$name" "$@"
    ns=$?
    what="" note=""
    if [ $rs -ne 0 ] || [ $ns -ne 0 ] || [ ! -f "$W/ref-$name/model.h5" ] || [ ! -f "$W/new-$name/model.h5" ]; then
        what="run failed (exit status ref $rs, new $ns)"
        for r in ref new; do tail -n 3 "$W/$r-$name.log" | sed "s/^/#   $r: /"; done
    else
        case ${mode:-allreduce} in
        ps-async | easgd-async | hogwild)
            what=$(same_metrics "$W/ref-$name/metrics.csv" "$W/new-$name/metrics.csv" epoch)
            note=" (async at np=$np: both finished; only the epoch column compared)"
            ;;
        *)
            what="$(same_model "$W/ref-$name/model.h5" "$W/new-$name/model.h5")"
            m=$(same_metrics "$W/ref-$name/metrics.csv" "$W/new-$name/metrics.csv" $DET)
            [ -n "$m" ] && what="${what:+$what; }$m"
            note=" (np=$np)"
            ;;
        esac
    fi
    if [ -n "$what" ]; then
        echo "$cfgf: DIFFERENT: $what"
        bad=1
    else
        echo "$cfgf: same$note"
    fi
done
echo "compared in $(($(date +%s) - start)) s: $( [ $bad -eq 0 ] && echo 'all the same' || echo 'some differ')"
exit $bad
