# The documentation: docs/configuration.md's reference and the man page docs/gdmpi.1 are the
# key table's, word for word (DESIGN rule 8); the man page renders; README.md stays short and
# starts with the set-up commands; every relative link in README.md and docs/*.md resolves.
. tests/lib.sh
awk '/<!-- config-reference:begin -->/{on=1; next} /<!-- config-reference:end -->/{on=0} on' \
    docs/configuration.md >"$TMP/docs-ref"
"$GDMPI" config --reference >"$TMP/table-ref"
# differs NAME A B FIX: ok when files A and B are equal, else the first lines of the diff.
differs() {
    if diff -u "$2" "$3" >"$TMP/diff"; then ok "$1"; else
        notok "$1 ($4)"
        head -n 20 "$TMP/diff" | sed 's/^/# /'
    fi
}
differs "docs/configuration.md's reference matches 'gdmpi config --reference'" \
    "$TMP/table-ref" "$TMP/docs-ref" "run make docs"
if GDMPI=$GDMPI sh scripts/update-docs.sh -o "$TMP/gen" >"$TMP/gen.log" 2>&1; then
    differs "docs/gdmpi.1 is what scripts/update-docs.sh generates" \
        "$TMP/gen/gdmpi.1" docs/gdmpi.1 "run make docs"
else
    notok "scripts/update-docs.sh -o DIR fails"
    sed 's/^/# /' "$TMP/gen.log" | head -n 5
fi

# The man page renders without warnings (man-db's check, else groff's).
if command -v man >/dev/null 2>&1; then
    check "man page renders without warnings (man --warnings)" sh -c \
        'out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l docs/gdmpi.1 2>&1 >/dev/null) && [ -z "$out" ]'
elif command -v groff >/dev/null 2>&1; then
    check "man page renders without warnings (groff -ww)" sh -c \
        'out=$(groff -man -ww -z docs/gdmpi.1 2>&1) && [ -z "$out" ]'
else
    ok "man page renders # SKIP neither man nor groff is installed (groff-base)"
fi

size=$(wc -c <README.md)
check "README.md is under 15 KB ($size bytes)" [ "$size" -lt 15360 ]
for cmd in "make run" "make test"; do
    check "README shows '$cmd' among its first lines" sh -c "head -n 20 README.md | grep -q '$cmd'"
done

# Relative links: [text](path) and [text](path#anchor) in README.md and docs/*.md.
for f in README.md docs/*.md; do
    grep -o '\](\([^)]*\))' "$f" | sed 's/^](//; s/)$//; s/#.*//' |
        grep -v '^[a-z]*:' | grep -v '^$' | while read -r target; do
        [ -e "$(dirname "$f")/$target" ] || echo "$f: $target"
    done
done >"$TMP/broken"
if [ -s "$TMP/broken" ]; then
    notok "every relative link in README.md and docs/*.md points to a file"
    sed 's/^/# broken: /' "$TMP/broken"
else
    ok "every relative link in README.md and docs/*.md points to a file"
fi

# docs/design.md's worked strategy compiles against the real headers, as printed.
awk '/^## Writing a strategy/{on=1} on&&/^```c/{c=1;next} c&&/^```/{exit} c' docs/design.md >"$TMP/plain.c"
compiles() {
    [ -s "$TMP/plain.c" ] && mpicc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude \
        $(pkg-config --cflags hdf5-openmpi openblas 2>/dev/null) -c "$TMP/plain.c" -o "$TMP/plain.o"
}
check "the worked strategy in docs/design.md compiles with -Wall -Wextra -Werror" compiles
