#!/bin/sh
# make fuzz FUZZ_SECONDS=60: builds the libFuzzer harnesses in tests/fuzz/ with clang
# (ASan + UBSan) and runs each for FUZZ_SECONDS from a seed corpus. Crashes are kept
# in build/fuzz/ as crash-* files; the script fails if any harness finds one.
set -eu
SECONDS_EACH=${FUZZ_SECONDS:-60}
OUT=build/fuzz
mkdir -p "$OUT/corpus/config" "$OUT/corpus/idx"
PKGS="hdf5-openmpi openblas inih zlib"
FLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lm"
SRCS=$(find src -name '*.c' ! -name main.c | sort)

# Seeds: every shipped config, and small IDX files (plain and gzip, good and cut short).
cp run.cfg configs/*.cfg "$OUT/corpus/config/" 2>/dev/null || true
find configs -name '*.cfg' -exec cp {} "$OUT/corpus/config/" \;
printf '\000\000\010\001\000\000\000\003\001\002\003' >"$OUT/corpus/idx/labels.idx"
printf '\000\000\010\003\000\000\000\001\000\000\000\002\000\000\000\002\001\002\003\004' >"$OUT/corpus/idx/images.idx"
gzip -kc "$OUT/corpus/idx/images.idx" >"$OUT/corpus/idx/images.idx.gz"
head -c 9 "$OUT/corpus/idx/labels.idx" >"$OUT/corpus/idx/short.idx"

status=0
for h in config idx; do
    echo "fuzz: building fuzz_$h"
    # shellcheck disable=SC2086
    OMPI_CC=clang mpicc $FLAGS -o "$OUT/fuzz_$h" "tests/fuzz/fuzz_$h.c" $SRCS $LIBS
    echo "fuzz: running fuzz_$h for ${SECONDS_EACH}s"
    (cd "$OUT" && ./"fuzz_$h" -max_total_time="$SECONDS_EACH" -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 "corpus/$h" 2>&1 | tail -n 12) || status=1
done
ls "$OUT"/crash-* 2>/dev/null && status=1
exit $status
