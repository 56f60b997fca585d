#!/bin/sh
# Installs the Debian packages gdmpi needs that are missing, with one apt-get update.
# Extra package names given as arguments are installed too (make fuzz adds clang).
set -eu
PKGS="build-essential pkg-config libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-openmpi-dev
      hdf5-tools libcmocka-dev libinih-dev zlib1g-dev dataset-fashion-mnist valgrind groff-base
      python3-h5py python3-numpy python3-matplotlib libsimgrid-dev libhdf5-dev $*"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    exit 0
fi
echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
