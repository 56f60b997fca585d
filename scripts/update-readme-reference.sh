#!/bin/sh
# Rewrites the config reference in README.md (between the config-reference markers)
# from the key table, via `gdmpi config --reference`. tests/e2e/docs.sh checks they match.
set -eu
GDMPI=${GDMPI:-./gdmpi}
ref=$(mktemp)
"$GDMPI" config --reference >"$ref"
awk -v ref="$ref" '
    /<!-- config-reference:begin -->/ { print; while ((getline line < ref) > 0) print line; skip = 1; next }
    /<!-- config-reference:end -->/ { skip = 0 }
    !skip { print }' README.md >README.md.tmp
mv README.md.tmp README.md
rm -f "$ref"
