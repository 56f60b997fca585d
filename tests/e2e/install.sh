# make install into a temporary prefix: the installed binary trains from another directory
# on a config with relative paths; gdmpi.pc builds and links a program against libgdmpi.a;
# the bash completion completes commands and config keys; make uninstall leaves no file.
. tests/lib.sh
prefix=$TMP/prefix
# The same build as the binary under test (make test SANITIZE=... exports GDMPI_SANITIZE).
install_with() {
    env -u MAKEFLAGS -u MAKELEVEL -u GDMPI_SIM make -s --no-print-directory "$1" PREFIX="$prefix" \
        ${GDMPI_SANITIZE:+SANITIZE=$GDMPI_SANITIZE} >"$TMP/make.out" 2>&1
}
install_with install
check "make install PREFIX=... succeeds and says where" grep -q "installed gdmpi .* under $prefix" "$TMP/make.out"
for f in bin/gdmpi share/man/man1/gdmpi.1 share/bash-completion/completions/gdmpi \
    share/gdmpi/configs/fmnist-mlp.cfg share/gdmpi/scripts/compare share/gdmpi/hostfiles \
    include/gdmpi/config.h lib/libgdmpi.a lib/pkgconfig/gdmpi.pc; do
    check "installed: $f" [ -e "$prefix/$f" ]
done

fixture sm softmax rows=200 features=4 classes=3 seed=3 val_rows=40
mkdir -p "$TMP/proj/data" "$TMP/proj/cfgs" "$TMP/elsewhere"
cp "$TMP/sm.h5" "$TMP/proj/data/train.h5" && cp "$TMP/sm-val.h5" "$TMP/proj/data/val.h5"
printf '[data]\ntrain = ../data/train.h5\nval = ../data/val.h5\n[train]\nepochs = 2\n[output]\ndir = out\n' \
    >"$TMP/proj/cfgs/job.cfg"
(cd "$TMP/elsewhere" && PATH=$prefix/bin:$PATH timeout 60 mpirun --oversubscribe -np 2 gdmpi \
    ../proj/cfgs/job.cfg >"$TMP/out" 2>&1)
check "the installed gdmpi trains from another directory on a config with relative paths" \
    [ -s "$TMP/proj/cfgs/out/model.h5" ]
check "the installed man page is a manual page" grep -q '^\.TH GDMPI' "$prefix/share/man/man1/gdmpi.1"

# A program built with only what the prefix holds: pkg-config's flags, libgdmpi.a.
cat >"$TMP/uses.c" <<'C'
#include <stdio.h>
#include <gdmpi/config.h>
#include <gdmpi/rng.h>
int main(void)
{
    gd_config c;
    gd_config_defaults(&c);
    const gd_key *k = gd_config_find("model", "init_scale");
    char scale[64];
    gd_config_format(&c, k, scale, sizeof scale);
    printf("init_scale %s permute %llu\n", scale, (unsigned long long)gd_permute(0, 10, 7));
    return 0;
}
C
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# The sanitizer build's library needs the sanitizers' runtime on the program's link line.
# shellcheck disable=SC2046 # pkg-config's flags are words
mpicc -std=c11 ${GDMPI_SANITIZE:+-fsanitize=$GDMPI_SANITIZE} -o "$TMP/uses" "$TMP/uses.c" \
    $(pkg-config --cflags --libs gdmpi) >"$TMP/cc.out" 2>&1
check "a program compiles and links against the installed libgdmpi.a with gdmpi.pc" [ -x "$TMP/uses" ]
"$TMP/uses" >"$TMP/uses.out" 2>&1
check "... and runs: model.init_scale's default is 0.01" grep -q '^init_scale 0.01 permute [0-9]' "$TMP/uses.out"
check "gdmpi.pc's version is gdmpi's" [ "$(pkg-config --modversion gdmpi)" = \
    "$("$GDMPI" --version | sed -n '1s/^gdmpi \([^ ]*\).*/\1/p')" ]

# The completion, in plain bash, asks the installed binary for commands and keys.
complete_words() {
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _gdmpi; echo "${COMPREPLY[*]}"' \
        - "$prefix/share/bash-completion/completions/gdmpi" "$prefix/bin/gdmpi" "$@"
}
check "completion: 'gdmpi pre' completes to predict" [ "$(complete_words pre)" = predict ]
check "completion: '--set optimizer.l' completes to optimizer.lr=" \
    [ "$(complete_words --set optimizer.l)" = optimizer.lr= ]
check "completion: 'data gen --ro' completes to --rows" [ "$(complete_words data gen --ro)" = --rows ]

install_with uninstall
check "make uninstall removes every file install wrote" [ -z "$(find "$prefix" -type f)" ]
