# The layers point down (issue 13), and every blocking MPI call goes through the profiling
# layer. No MPI run: it reads the sources, and the objects in $BUILD (make test-bins first).
#
# (a) Includes. Each header in include/gdmpi/ belongs to one layer, the layer of the folder
# that implements it; each source file to its folder's layer. A file may include the
# headers of the layers its own layer may use (below), its folder's private headers
# ("ps.h" in src/parallel/, found next to it), and nothing else from gdmpi:
#
#   layer     headers                                              may include
#   core      config error rng h5util fs registry state real meter thread core
#   data      data stream                                          core data
#   model     model                                                core data model
#   optim     optim schedule update                                core optim
#   comm      compress                                             core comm
#   parallel  parallel step inject watchdog                        core data model optim comm
#                                                                  parallel
#   train     train checkpoint signals stopping trace config_check every layer but pmpi and main
#             provenance
#   pmpi      (none: src/pmpi/ is linked, never included)          core parallel
#   main      src/main.c                                           every layer with headers
#
# so core < data < model, core < optim, core < comm (the gradient compressors), and data,
# model, optim, comm < parallel < train < main.c.
# step.h, the step context, is the strategies' whole view of training: the trainer fills it
# and serves its host callbacks (trace spans, metrics rows, checkpoint progress, signals).
# Exceptions, each with its reason (keep this list short; the test notes an exception that
# nothing uses any more, so that it can go). None today.
EXCEPTIONS=''
#
# (b) MPI. Every MPI_* function that src/ calls (nm -u on $BUILD/src/**/*.o) must be either
# defined by the profiling layer (nm on $BUILD/src/pmpi/*.o; it adds the stall watchdog and
# the injected network delay) or covered by the rule of calls that need no wrapper, because
# they never wait for another rank, or they run only outside training:
#   - non-blocking starts MPI_I* (Isend, Irecv, Iallreduce, ...): their completion (MPI_Wait*)
#     is what blocks; the profiling layer may still wrap them to add the network delay;
#   - completion tests and local request calls: MPI_Test*, MPI_Cancel, MPI_Request_free;
#   - local queries: MPI_Comm_rank, MPI_Comm_size, MPI_Wtime, MPI_Wtick, MPI_Get_*;
#   - the process's life: MPI_Init*, MPI_Finalize, MPI_Abort;
#   - communicators and shared-memory windows made and freed at setup and teardown, outside
#     the steps (collective, but the watchdog and the delay are for training's traffic):
#     MPI_Comm_dup, MPI_Comm_split, MPI_Comm_split_type, MPI_Comm_free,
#     MPI_Win_allocate_shared, MPI_Win_shared_query, MPI_Win_free; and the local
#     synchronisation of a shared-memory window: MPI_Win_lock_all, MPI_Win_unlock_all,
#     MPI_Win_sync.
# Anything else is taken as blocking (collectives, sends and receives, MPI_Wait*, probes,
# barriers, and any call nobody has classified yet): the test fails, naming it, until the
# profiling layer wraps it or it is added to the rule above with its reason.
. tests/lib.sh

# ---- (a) includes ----------------------------------------------------------------------

# layer_of_header NAME.h: the layer that a gdmpi header belongs to (empty: unknown).
layer_of_header() {
    case ${1%.h} in
    config | error | rng | h5util | fs | registry | state | real | meter | thread) echo core ;;
    data | stream) echo data ;;
    model) echo model ;;
    optim | schedule | update) echo optim ;;
    compress) echo comm ;;
    parallel | step | inject | watchdog) echo parallel ;;
    train | checkpoint | signals | stopping | trace | config_check | provenance) echo train ;;
    esac
}

# may_use LAYER USED: whether LAYER may include the headers of layer USED.
may_use() {
    case "$1:$2" in
    *:core | data:data | model:data | model:model | optim:optim | comm:comm) return 0 ;;
    parallel:data | parallel:model | parallel:optim | parallel:comm | parallel:parallel) return 0 ;;
    train:data | train:model | train:optim | train:comm | train:parallel | train:train) return 0 ;;
    pmpi:parallel | main:*) return 0 ;;
    esac
    return 1
}

# The file's layer: headers by name, sources by folder.
layer_of_file() {
    case $1 in
    include/gdmpi/*) layer_of_header "$(basename "$1")" ;;
    src/main.c) echo main ;;
    src/*/*) f=${1#src/}; echo "${f%%/*}" ;;
    esac
}

: >"$TMP/used-exceptions"
bad=0
files=$(ls include/gdmpi/*.h src/main.c src/*/*.c src/*/*.h 2>/dev/null)
for file in $files; do
    layer=$(layer_of_file "$file")
    case $layer in
    core | data | model | optim | comm | parallel | train | pmpi | main) ;;
    *)
        notok "$file: in no layer (add it to the layer table of tests/e2e/layers.sh)"
        bad=1
        continue
        ;;
    esac
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file"); do
        case $inc in
        gdmpi/*.h)
            used=$(layer_of_header "$(basename "$inc")")
            if [ -z "$used" ]; then
                notok "$file includes $inc, a header in no layer (add it to the layer table)"
                bad=1
            elif ! may_use "$layer" "$used"; then
                reason=$(printf '%s\n' "$EXCEPTIONS" | awk -v l="$layer" -v h="$(basename "$inc")" \
                    '$1 == l && $2 == h { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }')
                if [ -n "$reason" ]; then
                    echo "$layer $(basename "$inc")" >>"$TMP/used-exceptions"
                else
                    notok "$file ($layer) includes $inc ($used): $layer may not use $used"
                    bad=1
                fi
            fi
            ;;
        */*)
            notok "$file includes \"$inc\": only gdmpi/X.h or a header of its own folder"
            bad=1
            ;;
        *)
            if [ ! -f "$(dirname "$file")/$inc" ] || [ "${file#include/}" != "$file" ]; then
                notok "$file includes \"$inc\", which is not a private header of its folder"
                bad=1
            fi
            ;;
        esac
    done
done
[ $bad -eq 0 ] && ok "every include in src/ and include/gdmpi/ points down the layers ($(echo "$files" | wc -l) files)"
printf '%s\n' "$EXCEPTIONS" | while read -r layer header reason; do
    [ -n "$layer" ] || continue
    if grep -qx "$layer $header" "$TMP/used-exceptions"; then
        echo "# exception in use: $layer -> $header ($reason)"
    else
        echo "# exception no longer used, remove it from tests/e2e/layers.sh: $layer -> $header"
    fi
done
core_up=$(grep -h '#include "gdmpi/' src/core/*.c include/gdmpi/config.h include/gdmpi/error.h \
    include/gdmpi/rng.h include/gdmpi/h5util.h include/gdmpi/fs.h include/gdmpi/registry.h \
    include/gdmpi/state.h include/gdmpi/real.h include/gdmpi/meter.h include/gdmpi/thread.h |
    grep -E 'gdmpi/(data|stream|model|optim|schedule|compress|parallel|inject|watchdog|train|checkpoint|signals|trace|config_check|provenance)\.h')
check "core includes nothing from data, model, optim, comm, parallel or train" [ -z "$core_up" ]

# ---- (b) blocking MPI calls --------------------------------------------------------------

# The objects of today's sources only (a stale object of a deleted file would mislead).
objects() { for c in $(find "$1" -name '*.c' | sort); do [ -f "$BUILD/${c%.c}.o" ] && echo "$BUILD/${c%.c}.o"; done; }
objs=$(objects src | grep -v "^$BUILD/src/pmpi/")
pmpi_objs=$(objects src/pmpi)
if [ -z "$objs" ] || [ -z "$pmpi_objs" ]; then
    notok "no objects in $BUILD/src (run make test-bins first)"
    exit 1
fi
# shellcheck disable=SC2086
nm -u $objs | awk '{ print $NF }' | grep -E '^MPI_[A-Za-z_]+$' | sort -u >"$TMP/called"
# shellcheck disable=SC2086
nm --defined-only $pmpi_objs | awk '$2 == "T" { print $3 }' | grep -E '^MPI_' | sort -u >"$TMP/wrapped"
check "src/ calls MPI functions ($(wc -l <"$TMP/called") found)" [ -s "$TMP/called" ]

needs_no_wrapper() {
    case $1 in
    MPI_I[a-z]* | MPI_Test* | MPI_Cancel | MPI_Request_free) return 0 ;;
    MPI_Comm_rank | MPI_Comm_size | MPI_Wtime | MPI_Wtick | MPI_Get_*) return 0 ;;
    MPI_Init* | MPI_Finalize | MPI_Abort) return 0 ;;
    MPI_Comm_dup | MPI_Comm_split | MPI_Comm_split_type | MPI_Comm_free) return 0 ;;
    MPI_Win_allocate_shared | MPI_Win_shared_query | MPI_Win_free) return 0 ;;
    MPI_Win_lock_all | MPI_Win_unlock_all | MPI_Win_sync) return 0 ;;
    # user-defined reductions made and freed at setup and teardown (fp16's float32 sum), and
    # a datatype's size: local calls
    MPI_Op_create | MPI_Op_free | MPI_Type_size) return 0 ;;
    esac
    return 1
}

while read -r fn; do
    if grep -qx "$fn" "$TMP/wrapped"; then
        ok "$fn: wrapped by the profiling layer (src/pmpi/)"
    elif needs_no_wrapper "$fn"; then
        ok "$fn: needs no wrapper (non-blocking, local, or setup and teardown only)"
    else
        where=$(for o in $objs; do nm -u "$o" | grep -qw "$fn" && echo "${o#"$BUILD"/}"; done | tr '\n' ' ')
        notok "$fn: blocking, but src/pmpi/ does not wrap it (called from: $where)"
    fi
done <"$TMP/called"

# The wrappers are in the binary itself, whatever the link order (Makefile: PMPI_OBJS).
if [ -x "$GDMPI" ]; then
    nm --defined-only "$GDMPI" | awk '$2 == "T" { print $3 }' | grep -E '^MPI_' | sort -u >"$TMP/in-binary"
    missing=$(comm -23 "$TMP/wrapped" "$TMP/in-binary" | tr '\n' ' ')
    check "the gdmpi binary defines every wrapper${missing:+ (missing: $missing)}" [ -z "$missing" ]
fi
