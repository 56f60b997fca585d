# Helpers for the checkpoint and fault tests (tests/e2e/checkpoint.sh, faults.sh); sourced
# after tests/lib.sh. Not a suite of its own: run-all.sh runs tests/e2e/*.sh only.

# dataset NAME FILE OUT: the raw little-endian bytes of one dataset of an HDF5 file.
dataset() { h5dump -d "/$1" -b LE -o "$3" "$2" >/dev/null 2>&1; }

# same_model DIR_A DIR_B: model.h5's params (and state, if any) are byte for byte equal.
same_model() {
    dataset params "$1/model.h5" "$TMP/a.bin" && dataset params "$2/model.h5" "$TMP/b.bin" &&
        cmp -s "$TMP/a.bin" "$TMP/b.bin" || return 1
    dataset state "$1/model.h5" "$TMP/a.bin" || return 0
    dataset state "$2/model.h5" "$TMP/b.bin" && cmp -s "$TMP/a.bin" "$TMP/b.bin"
}

# ck_rows DIR: the metrics rows in DIR/checkpoint.h5.
ck_rows() {
    h5dump -H -d /metrics/rows "$1/checkpoint.h5" 2>/dev/null |
        awk '/DATASPACE/{print $5; exit}'
}

# ck_position DIR: rank 0's epoch, step and steps done in that epoch in DIR/checkpoint.h5.
ck_position() {
    h5dump -d /progress/position "$1/checkpoint.h5" 2>/dev/null |
        awk '/\(0,0\)/{gsub(",", ""); print $2, $3, $4}'
}
