# The README's config reference is the key table's, word for word (DESIGN rule 8).
. tests/lib.sh
awk '/<!-- config-reference:begin -->/{on=1; next} /<!-- config-reference:end -->/{on=0} on' README.md >"$TMP/readme-ref"
"$GDMPI" config --reference >"$TMP/table-ref"
same() { diff -u "$TMP/table-ref" "$TMP/readme-ref" >"$TMP/diff"; }
if same; then ok "README config reference matches the key table"; else
    notok "README config reference differs from 'gdmpi config --reference' (run make docs)"
    head -n 20 "$TMP/diff" | sed 's/^/# /'
fi
for cmd in "make run" "make test"; do
    check "README shows '$cmd' among its first lines" sh -c "head -n 20 README.md | grep -q '$cmd'"
done
