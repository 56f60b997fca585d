#!/bin/sh
# make memcheck: a short training run at np=2 under valgrind. Fails when any invalid
# access, use of uninitialised memory or definite leak has a frame in gdmpi's own
# sources; what lies wholly inside Open MPI, HDF5 or OpenBLAS is listed but not counted.
set -u
GDMPI=${GDMPI:-./gdmpi}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=$(mktemp -d /tmp/gdmpi-memcheck-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
"$GDMPI" data gen --task softmax --rows 600 --features 8 --classes 3 --seed 1 -o "$OUT/d.h5" \
    --val "$OUT/v.h5" --val-rows 100 >/dev/null
printf '[data]\ntrain = %s\nval = %s\n[train]\nepochs = 2\nbatch_size = 32\n[output]\ndir = %s/run\n' \
    "$OUT/d.h5" "$OUT/v.h5" "$OUT" >"$OUT/m.cfg"
SUPP=/usr/share/openmpi/openmpi-valgrind.supp
# Keep Open MPI's components loaded at exit so their frames have names.
export OMPI_MCA_mca_base_component_disable_dlclose=1
mpirun --oversubscribe -np 2 valgrind --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --fullpath-after= ${SUPP:+--suppressions=$SUPP} \
    --log-file="$OUT/vg.%p.log" "$GDMPI" "$OUT/m.cfg" >"$OUT/run.log" 2>&1 || {
    echo "memcheck: the run itself failed:"; cat "$OUT/run.log"; exit 1; }
# Each valgrind record is a block of lines ending in a blank line. A record is gdmpi's
# when its innermost frame outside valgrind and libc is in gdmpi's sources.
awk '
    function flush() {
        if (rec ~ /(Invalid|uninitialised|definitely lost)/) {
            if (owner == "ours") { ours++; print rec } else theirs++
        }
        rec = ""; owner = ""
    }
    /^==[0-9]+== *$/ { flush(); next }
    { rec = rec "\n" $0 }
    owner == "" && /(at|by) 0x/ {
        if ($0 ~ /vgpreload|\((string|libio|csu|stdlib|malloc|nptl)\//) next
        owner = ($0 ~ /\/src\/(main\.c|core\/|data\/|model\/|optim\/|parallel\/|train\/)/) ? "ours" : "theirs"
    }
    END { flush(); printf "memcheck: %d record(s) in gdmpi code, %d inside the libraries only\n", ours, theirs
          exit ours > 0 }' "$OUT"/vg.*.log
