# data.stream: the training shard read in chunks while training (docs/data.md, "Streaming").
# GDMPI_ROW_LOG counts every row's uses: exactly once per epoch, streamed and in memory, in
# shuffled and sequential order, with a global shuffle, in ps-async, and across a resume in
# mid-epoch; sequential streaming gives in-memory's model.h5 byte for byte (float and uint8
# files); a reader failure (a file truncated while training, a chunk that cannot be read) ends
# every rank naming the file and the rows; memory stays within data.memory_mb plus a fixed
# overhead for a file 4.8x memory_mb x ranks; combinations that cannot stream are
# refused by name.
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh
PY=/usr/bin/python3

# 12000 rows x 40 features (1.9 MiB): with data.memory_mb = 1 a shard of 6000 rows streams
# in about 6 chunks through a buffer of about 3000 rows.
fixture st softmax rows=12000 features=40 classes=4 noise=0.3 seed=5
cfg base st model.type=softmax optimizer.lr=0.1 train.epochs=3 train.batch_size=32 \
    data.memory_mb=1 optimizer.type=momentum

# once DIR [RESUMED]: every row of the 12000 used exactly once in each of the 3 epochs, by
# the "epoch step row" lines of DIR/rows.*; with RESUMED, DIR's lines before the step the
# resumed run started at, then RESUMED's (what the model was trained on).
once() {
    $PY - "$@" <<'PYEOF'
import sys, glob, collections
def lines(d):
    for f in glob.glob(d + "/rows.*"):
        for l in open(f):
            yield tuple(map(int, l.split()))
got = list(lines(sys.argv[1]))
if len(sys.argv) > 2:
    later = list(lines(sys.argv[2]))
    cut = min(s for e, s, r in later)
    got = [x for x in got if x[1] < cut] + later
per = collections.defaultdict(collections.Counter)
for e, s, r in got:
    per[e][r] += 1
bad = [(e, len(c), max(c.values())) for e, c in sorted(per.items())
       if sorted(c) != list(range(12000)) or max(c.values()) != 1]
if sorted(per) != [1, 2, 3] or bad:
    sys.exit(print("# epochs", sorted(per), "rows, most uses:", bad) or 1)
PYEOF
}

# says PATTERN: the last run's output matches PATTERN (grep); if not, its first lines as
# TAP comments.
says() { grep -q "$1" "$TMP/out" || { sed 's/^/# /' "$TMP/out" | head -n 5; false; }; }

# logged NAME NP ARGS...: a run of base.cfg into $TMP/NAME with its row log in $TMP/NAME.log.
logged() {
    lg_name=$1 lg_np=$2
    shift 2
    rm -rf "$TMP/$lg_name.log"
    mkdir -p "$TMP/$lg_name.log"
    GDMPI_ROW_LOG=$TMP/$lg_name.log mpi "$lg_np" "$TMP/base.cfg" --set output.dir="$TMP/$lg_name" "$@"
}

# --- every row once per epoch ------------------------------------------------------------
for order in shuffle sequential; do
    for stream in true false; do
        logged "$order-$stream" 2 --set data.order=$order --set data.stream=$stream
        check "np=2, data.order = $order, data.stream = $stream: every row once per epoch" \
            once "$TMP/$order-$stream.log"
    done
done
logged global 2 --set data.stream=true --set data.shuffle=global
check "stream with data.shuffle = global (chunks dealt each epoch): every row once per epoch" \
    once "$TMP/global.log"
logged global-mem 2 --set data.stream=false --set data.shuffle=global
check "in memory with data.shuffle = global (rows moved each epoch): every row once per epoch" \
    once "$TMP/global-mem.log"
logged async 3 --set data.stream=true --set parallel.mode=ps-async
check "stream in ps-async (np=3): every row once per epoch" once "$TMP/async.log"
logged hogwild 2 --set data.stream=true --set parallel.mode=hogwild --set data.shuffle=global
check "stream in hogwild with data.shuffle = global: every row once per epoch" once "$TMP/hogwild.log"

# The stream shuffles: its epochs differ from one another and from the file's order.
order_of() { awk -v e="$2" '$1 == e {print $3}' "$TMP/$1.log/rows.0"; }
order_of shuffle-true 1 >"$TMP/e1"
order_of shuffle-true 2 >"$TMP/e2"
order_of sequential-true 1 >"$TMP/seq"
check "... shuffled: epoch 2's row order is not epoch 1's, nor the file's" \
    sh -c "! cmp -s '$TMP/e1' '$TMP/e2' && ! cmp -s '$TMP/e1' '$TMP/seq' && [ -s '$TMP/e1' ]"
check "... sequential: rank 0 streams its rows in file order" \
    sh -c "seq 0 5999 | cmp -s - '$TMP/seq'"

# --- sequential streaming is in-memory training, byte for byte ---------------------------
check "data.order = sequential: the streamed model.h5 is the in-memory one (cmp)" \
    cmp "$TMP/sequential-true/model.h5" "$TMP/sequential-false/model.h5"
$PY - "$TMP/st.h5" "$TMP/st8.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    X, y = f["X"][...], f["y"][...]
with h5py.File(sys.argv[2], "w") as g:
    g["X"] = np.clip(np.round((X + 4) * 30), 0, 255).astype(np.uint8)
    g["y"] = y
PYEOF
for stream in true false; do
    mpi 2 "$TMP/base.cfg" --set output.dir="$TMP/u8-$stream" --set data.order=sequential \
        --set data.train="$TMP/st8.h5" --set data.scale=0.0039215686 --set data.stream=$stream
done
check "uint8 features (data.scale): the streamed model.h5 is the in-memory one (cmp)" \
    cmp "$TMP/u8-true/model.h5" "$TMP/u8-false/model.h5"
gen --task softmax --rows 12000 --features 40 --classes 4 --noise 0.3 --seed 5 \
    -o "$TMP/stz.h5" --chunk-rows 700 --gzip 1
mpi 2 "$TMP/base.cfg" --set output.dir="$TMP/gz" --set data.order=sequential \
    --set data.train="$TMP/stz.h5" --set data.stream=true
check "a chunked, gzipped file (data gen --gzip) streams to the same model.h5 (cmp)" \
    cmp "$TMP/gz/model.h5" "$TMP/sequential-false/model.h5"

# --- resumed in mid-epoch: the epoch's draw replayed; every row once; the same model -----
GDMPI_FAULT=checkpoint-write:3 logged cut 2 --set data.stream=true \
    --set output.checkpoint_every=70s
check "stream: rank 0 killed while writing the 3rd checkpoint ends the job" [ $? -ne 0 ]
logged resumed 2 --set data.stream=true --set output.checkpoint_every=70s \
    --set train.resume=auto --set output.dir="$TMP/cut"
check "... resumed from the 2nd (mid-epoch) it exits 0" \
    sh -c "[ $? -eq 0 ] && grep -q 'resuming from.*(140 of the epoch' '$TMP/out'"
check "... every row once per epoch across the resume" once "$TMP/cut.log" "$TMP/resumed.log"
check "... model.h5's parameters bit for bit the uninterrupted run's" \
    same_model "$TMP/shuffle-true" "$TMP/cut"
# ps: the server holds no rows but declares the stream's state like the workers
mpi 3 "$TMP/base.cfg" --set output.dir="$TMP/ps-full" --set data.stream=true --set parallel.mode=ps
GDMPI_FAULT=checkpoint-write:3 logged ps-cut 3 --set data.stream=true --set parallel.mode=ps \
    --set output.checkpoint_every=70s
logged ps-resumed 3 --set data.stream=true --set parallel.mode=ps \
    --set output.checkpoint_every=70s --set train.resume=auto --set output.dir="$TMP/ps-cut"
check "ps (np=3) killed and resumed in mid-epoch: every row once per epoch" \
    once "$TMP/ps-cut.log" "$TMP/ps-resumed.log"
check "... and the uninterrupted run's parameters, bit for bit" same_model "$TMP/ps-full" "$TMP/ps-cut"
mpi 2 "$TMP/base.cfg" --set output.dir="$TMP/cut" --set data.stream=true \
    --set train.resume=auto --set data.memory_mb=2 --set train.epochs=4
check "... resumed with another data.memory_mb (another draw): refused, naming the key" \
    sh -c "[ $? -ne 0 ] && grep -q \"config differs: 'data.memory_mb = 1' there, 'data.memory_mb = 2' here\" '$TMP/out'"

# --- a reader failure ends every rank, naming the file and the rows ------------------------
cp "$TMP/stz.h5" "$TMP/bad.h5"
$PY - "$TMP/bad.h5" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    info = f["X"].id.get_chunk_info(5)  # rows 3500..4200: rank 0's, read in epoch 1
with open(sys.argv[1], "r+b") as g:
    g.seek(info.byte_offset + 8)
    g.write(b"\xff" * 64)
PYEOF
start=$(date +%s)
mpi 2 "$TMP/base.cfg" --set output.dir="$TMP/badrun" --set data.train="$TMP/bad.h5" \
    --set data.stream=true
check "an unreadable chunk: status $?, a message naming the file and its rows" \
    says "bad.h5: cannot read rows [0-9]*\.\.[0-9]* of 'X'"
check "... within seconds ($(($(date +%s) - start)) s)" [ $(($(date +%s) - start)) -lt 20 ]
cp "$TMP/st.h5" "$TMP/cut.h5"
(mpi 2 "$TMP/base.cfg" --set output.dir="$TMP/cutrun" --set data.train="$TMP/cut.h5" \
    --set data.stream=true --set train.epochs=100000; echo $? >"$TMP/cutrun.status") &
for _ in $(seq 200); do # until the first epoch's row: the stream is running
    [ -f "$TMP/cutrun/metrics.csv" ] && [ "$(wc -l <"$TMP/cutrun/metrics.csv")" -ge 2 ] && break
    sleep 0.1
done
truncate -s 500000 "$TMP/cut.h5"
start=$(date +%s)
wait
took=$(($(date +%s) - start)) status=$(cat "$TMP/cutrun.status")
check "a file truncated while training: every rank ends (status $status) within seconds ($took s)" \
    sh -c "[ $status -ne 0 ] && [ $took -lt 20 ]"
check "... naming the file and the rows beyond its end" \
    says "cut.h5: rows [0-9]*\.\.[0-9]* of 'X' lie beyond the end of the file"

# --- memory is bounded: a file 4.8x memory_mb x ranks -------------------------------------
gen --task softmax --rows 200000 --features 50 --classes 4 --seed 2 -o "$TMP/huge.h5"
gen --task softmax --rows 2000 --features 50 --classes 4 --seed 2 -o "$TMP/tiny.h5"
cfg mem - data.train="$TMP/huge.h5" model.type=softmax train.epochs=1 train.batch_size=64 \
    data.memory_mb=4
# most FIELD DIR: the largest of summary.json's per-rank FIELD.
most() { $PY -c "import json,sys; print(max(r[sys.argv[1]] for r in json.load(open(sys.argv[2]))['ranks']))" "$1" "$TMP/$2/summary.json"; }
mpi 2 "$TMP/mem.cfg" --set output.dir="$TMP/mem-tiny" --set data.train="$TMP/tiny.h5"
mpi 2 "$TMP/mem.cfg" --set output.dir="$TMP/mem-stream"
check "a 38 MiB file at np=2 with data.memory_mb = 4 streams (auto) and trains" \
    sh -c "[ $? -eq 0 ] && grep -q '^  stream  chunks of [0-9]* rows (3 in memory)' '$TMP/out'"
mpi 2 "$TMP/mem.cfg" --set output.dir="$TMP/mem-full" --set data.stream=false
held=$(most shard_mb mem-stream)
check "... its chunks and buffer (summary.json's shard_mb $held) fill 3..4 MiB" \
    awk -v h="$held" 'BEGIN{exit !(h > 3 && h <= 4)}'
base=$(most peak_rss_mb mem-tiny) streamed=$(most peak_rss_mb mem-stream)
full=$(most peak_rss_mb mem-full)
if [ -n "${GDMPI_SANITIZE:-}" ]; then # AddressSanitizer's quarantine holds freed memory
    skip "... peak RSS within the bound" "the sanitizers' allocator inflates RSS"
else
    check "... peak RSS $streamed MiB <= a 2000-row run's $base + memory_mb 4 + 3" \
        gt "$(awk -v b="$base" 'BEGIN{print b + 4 + 3}')" "$streamed"
fi
check "... and 10 MiB below in memory's $full MiB" gt "$full" "$(awk -v s="$streamed" 'BEGIN{print s + 10}')"

# --- refused by name ----------------------------------------------------------------------
refused 2 "data.stream = 'maybe': unknown name (known: auto|true|false)" \
    "$TMP/base.cfg" --set data.stream=maybe
refused 2 "data.memory_mb = 0: out of range" "$TMP/base.cfg" --set data.memory_mb=0
refused 2 "data.stream = true with data.order = curriculum" \
    "$TMP/base.cfg" --set data.stream=true --set data.order=curriculum
refused 2 "data.stream = true with data.partition = label-skew" \
    "$TMP/base.cfg" --set data.stream=true --set data.partition=label-skew
refused 2 "data.stream = true with train.batch_size = full" \
    "$TMP/base.cfg" --set data.stream=true --set train.batch_size=full
mpi 1 "$TMP/base.cfg" --set output.dir="$TMP/bad" --set data.stream=true \
    --set data.shuffle_buffer=100000
check "a shuffle buffer larger than data.memory_mb: refused naming both keys" \
    says "data.shuffle_buffer = 100000 rows of 40 features take .* of data.memory_mb = 1"
mpi 2 "$TMP/mem.cfg" --set output.dir="$TMP/bad" --set data.order=curriculum
check "auto above data.memory_mb with a curriculum: refused, saying why" \
    says "data.stream = auto and a shard of .* above data.memory_mb = 4 with data.order = curriculum"
refused 2 "data gen: --gzip must be a level 1..9" data gen --task linreg --rows 10 --features 2 \
    -o "$TMP/x.h5" --gzip 12
