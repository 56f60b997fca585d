#!/bin/sh
# make install / make uninstall (docs/install.md).
#   install-files.sh install   ROOT PREFIX BIN LIB "CFLAGS" "LIBS" SHAREDIR...
#   install-files.sh uninstall ROOT PREFIX - - - - SHAREDIR...
# ROOT is $(DESTDIR)$(PREFIX), where the files go; PREFIX is where they will live, for
# gdmpi.pc. Everything gdmpi installs is one of the paths listed in installed_paths, so
# uninstall removes exactly those and nothing else.
set -eu
action=$1 root=$2 prefix=$3 bin=$4 lib=$5 cflags=$6 libs=$7
shift 7
cd "$(dirname "$0")/.."

installed_paths() {
    echo bin/gdmpi share/man/man1/gdmpi.1 share/bash-completion/completions/gdmpi \
        share/gdmpi include/gdmpi lib/libgdmpi.a lib/pkgconfig/gdmpi.pc
}

version() { sed -n 's/^#define GDMPI_VERSION "\(.*\)"/\1/p' include/gdmpi/train.h; }

write_pc() {
    cat <<PC
prefix=$prefix
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: gdmpi
Description: gdmpi's trainer as a static library (data, models, optimizers, strategies)
Version: $(version)
Cflags: -I\${includedir} $cflags
Libs: -L\${libdir} -lgdmpi $libs -lm
PC
}

case $action in
install)
    install -d "$root/bin" "$root/share/man/man1" "$root/share/bash-completion/completions" \
        "$root/share/gdmpi" "$root/include/gdmpi" "$root/lib/pkgconfig"
    install -m 755 "$bin" "$root/bin/gdmpi"
    install -m 644 docs/gdmpi.1 "$root/share/man/man1/gdmpi.1"
    install -m 644 scripts/gdmpi-completion.bash "$root/share/bash-completion/completions/gdmpi"
    for dir in "$@"; do cp -R "$dir" "$root/share/gdmpi/"; done
    install -m 644 include/gdmpi/*.h "$root/include/gdmpi/"
    install -m 644 "$lib" "$root/lib/libgdmpi.a"
    write_pc >"$root/lib/pkgconfig/gdmpi.pc"
    echo "installed gdmpi $(version) under $root (make uninstall PREFIX=$prefix removes it)"
    ;;
uninstall)
    for path in $(installed_paths); do rm -rf "${root:?}/$path"; done
    echo "removed gdmpi from $root"
    ;;
*) echo "usage: $0 install|uninstall ROOT PREFIX ..." >&2; exit 2 ;;
esac
