#!/bin/sh
# The libraries gdmpi builds against, for the Makefile.
#   check-libs.sh --hdf5-cflags | --hdf5-libs   parallel HDF5's flags: pkg-config's
#       hdf5-openmpi (Debian), else h5pcc -show (cluster modules); nothing when neither
#       exists (the check below then says so). HDF5_DIR=... in make bypasses both.
#   check-libs.sh PKG...   exits 1 with a message naming each missing piece: mpicc, parallel
#       HDF5, and each pkg-config package PKG, with pkg-config's own error beside it
#       (GDMPI_SIM set, for make sim: smpicc and serial HDF5 instead).
set -u

hdf5_flags() { # hdf5_flags cflags|libs
    if pkg-config --exists hdf5-openmpi 2>/dev/null; then
        pkg-config --"$1" hdf5-openmpi
    elif command -v h5pcc >/dev/null 2>&1; then
        # h5pcc -show prints the compile line it would run: keep HDF5's own flags.
        for word in $(h5pcc -show); do
            case $1:$word in
            cflags:-I* | cflags:-D*) printf '%s ' "$word" ;;
            libs:-L* | libs:-l* | libs:-Wl,*) printf '%s ' "$word" ;;
            esac
        done
        echo
    fi
}

case ${1:-} in
--hdf5-cflags) hdf5_flags cflags; exit 0 ;;
--hdf5-libs) hdf5_flags libs; exit 0 ;;
esac

missing=0
say() { echo "gdmpi build: $*" >&2; missing=1; }
if [ -n "${GDMPI_SIM:-}" ]; then # make sim: SimGrid's compiler and serial HDF5
    command -v smpicc >/dev/null 2>&1 || say "smpicc not found (SimGrid SMPI: Debian libsimgrid-dev)"
    set -- "$@" hdf5-serial
elif ! command -v mpicc >/dev/null 2>&1; then
    say "mpicc not found (Open MPI's compiler wrapper: Debian libopenmpi-dev)"
fi
if [ -n "${GDMPI_SIM:-}" ]; then
    :
elif [ -n "${HDF5_DIR:-}" ]; then
    [ -e "$HDF5_DIR/include/hdf5.h" ] || say "HDF5_DIR=$HDF5_DIR has no include/hdf5.h"
elif ! pkg-config --exists hdf5-openmpi 2>/dev/null && ! command -v h5pcc >/dev/null 2>&1; then
    say "parallel HDF5 not found: no pkg-config hdf5-openmpi (Debian libhdf5-openmpi-dev), no h5pcc on PATH, no HDF5_DIR"
fi
for pkg in "$@"; do
    if ! err=$(pkg-config --exists --print-errors "$pkg" 2>&1); then
        say "library '$pkg' not found by pkg-config: $(echo "$err" | head -n 1)"
    fi
done
if [ $missing = 1 ]; then
    echo "gdmpi build: on Debian, 'make deps' installs everything (scripts/install-deps.sh);" \
        "on a cluster, load the modules or pass HDF5_DIR=/path to make." >&2
    exit 1
fi
