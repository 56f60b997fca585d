# Compressed ps-async pushes (parallel.compress with parallel.mode = ps-async,
# docs/parallel-modes.md, "Compressed ps-async pushes"): compress = none is the float32 push
# as before; every compressor that can go point to point trains an mlp at np=3 (one server,
# two workers) and puts on the wire exactly the bytes its encoding says, per push and per
# slice with two servers; the collective ones are refused by name with the reason; each
# worker's residual and stream survive a checkpoint and resume. The exchanges' encodings
# themselves: tests/e2e/compress.sh, tests/unit/test_compress.c.
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh
PY=/usr/bin/python3

# An mlp 20-16-4: 404 parameters. 1600 rows: 800 a worker, 16 steps of 50 an epoch.
fixture cls softmax rows=1600 features=20 classes=4 noise=0.3 seed=21 val_rows=200
cfg job cls model.type=mlp model.hidden=16 optimizer.type=sgd optimizer.lr=0.2 \
    train.epochs=4 train.batch_size=50 parallel.mode=ps-async parallel.compress_ratio=0.1
# train NP NAME ARGS...: a run of job.cfg into $TMP/NAME; status in $?.
train() {
    tr_np=$1 tr_dir=$2
    shift 2
    mpi "$tr_np" "$TMP/job.cfg" --set output.dir="$TMP/$tr_dir" "$@"
}

# push_bytes NAME SERVERS CODE: every epoch's row (the lead worker's) counts steps pushes
# of SERVERS messages of a 64-byte header and CODE bytes, and the fetch before evaluating
# (a header each); bytes_recv the replies, each a header and the float32 slice; summary.json
# names the push's size; and every push sent was applied (conservation).
push_bytes() {
    $PY - "$TMP/$1" "$2" "$3" <<'PYEOF'
import sys, csv, json
d, servers, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = json.load(open(d + "/summary.json"))
steps, head, n = s["steps_per_epoch"], 64, 404
want_sent = steps * servers * (head + code) + servers * head
want_recv = (steps + 1) * (servers * head + 4 * n)
rows = list(csv.DictReader(open(d + "/metrics.csv")))
ok = all(float(r["bytes_sent"]) == want_sent and float(r["bytes_recv"]) == want_recv for r in rows)
ok = ok and s["ps"]["conservation"]["ok"]
if "compress" in s:
    ok = ok and s["compress"]["push_bytes"] == [head + code] * servers
if not ok:
    print("# want %d sent, %d received an epoch; rows %s" % (want_sent, want_recv,
          [(r["bytes_sent"], r["bytes_recv"]) for r in rows]))
sys.exit(0 if ok else 1)
PYEOF
}
# learns NAME: the training loss falls and the validation accuracy ends above 0.75 (4 classes).
learns() {
    gt "$(awk -F, 'NR==2{print $5}' "$TMP/$1/metrics.csv")" "$(csv_last train_loss "$TMP/$1/metrics.csv")" &&
        gt "$(csv_last val_acc "$TMP/$1/metrics.csv")" 0.75
}

# --- none: the float32 push, unchanged ----------------------------------------------------
# One worker pushes and fetches in turn, so ps-async at np=2 is deterministic.
train 2 none --set parallel.compress=none
check "ps-async at np=2, compress = none, exits 0" [ $? -eq 0 ]
check "ps-async, compress = none: a push is the header and 404 floats (1680 bytes)" push_bytes none 1 1616
check "ps-async, compress = none: compression 1.00" [ "$(csv_last compression "$TMP/none/metrics.csv")" = 1.00 ]

# --- every compressor that goes point to point, at np=3 ----------------------------------
# Code bytes of one push of 404 floats: fp16/bf16 2n; topk/randomk at 0.1: k = 41, 8k; qsgd
# s = 7: one bucket norm and 4 bits a coordinate; sign (EF-signSGD): one scale, 1 bit each.
for spec in fp16:808 bf16:808 topk:328 randomk:328 qsgd:206 sign:55; do
    c=${spec%%:*} bytes=${spec#*:}
    train 3 "$c" --set parallel.compress="$c"
    check "ps-async, compress = $c: exits 0" [ $? -eq 0 ]
    check "ps-async, compress = $c: learns (val_acc $(csv_last val_acc "$TMP/$c/metrics.csv" 2>/dev/null))" learns "$c"
    check "ps-async, compress = $c: 64 + $bytes bytes a push on the wire, as its encoding says" \
        push_bytes "$c" 1 "$bytes"
done

# Two servers: each push is a code of its server's slice (202 floats, top-k 10%: k = 21).
train 4 topk2 --set parallel.compress=topk --set parallel.servers=2
check "ps-async, 2 servers, topk: exits 0" [ $? -eq 0 ]
check "ps-async, 2 servers, topk: each slice's push is 64 + 168 bytes" push_bytes topk2 2 168

# --- refused: the exchanges that are collective --------------------------------------------
# refused_mpi NEEDLE ARGS...: job.cfg at np=3 exits 2 with NEEDLE in its message.
refused_mpi() {
    rm_needle=$1
    shift
    train 3 bad "$@"
    rm_status=$?
    check "ps-async $*: status 2, '$rm_needle'" \
        sh -c "[ $rm_status -eq 2 ] && grep -qF -- \"\$1\" '$TMP/out'" _ "$rm_needle"
}
refused_mpi "parallel.compress = powersgd: not with parallel.mode = ps-async, whose pushes go point to point: PowerSGD's power iteration allreduces P" \
    --set parallel.compress=powersgd
refused_mpi "parallel.compress = sign: not with parallel.mode = ps-async, whose pushes go point to point: signSGD's majority vote" \
    --set parallel.compress=sign --set parallel.error_feedback=false
refused_mpi "parallel.compress = topk: parallel.mode = downpour does not compress (allreduce and ps-async do)" \
    --set parallel.compress=topk --set parallel.mode=downpour

# --- checkpoints: every worker's residual and stream -----------------------------------------
# randomk (error feedback and a stream). The run's last checkpoint, written when all ranks
# meet at the end, describes the workers; resumed with nothing left to do, the workers'
# residuals and streams are restored and saved back unchanged (zeros or the seed's stream
# if they were not restored); resumed for 2 more epochs, training goes on.
train 3 ck --set parallel.compress=randomk --set train.epochs=2 --set output.checkpoint_every=1
check "ps-async, randomk, checkpoint_every = 1: exits 0" [ $? -eq 0 ]
lengths() { h5dump -a "/compress/$2/lengths" "$TMP/$1/checkpoint.h5" 2>/dev/null | awk -F': ' '/\(0\)/{print $2}'; }
check "the checkpoint holds each worker's residual (lengths $(lengths ck residual))" \
    [ "$(lengths ck residual)" = "0, 404, 404" ]
check "the checkpoint holds each worker's stream (lengths $(lengths ck rng))" [ "$(lengths ck rng)" = "0, 4, 4" ]
dataset compress/residual "$TMP/ck/checkpoint.h5" "$TMP/e1.bin"
dataset compress/rng "$TMP/ck/checkpoint.h5" "$TMP/r1.bin"
check "the residual is not zero" sh -c "od -An -v -tx1 '$TMP/e1.bin' | grep -q '[1-9a-f]'"
train 3 ck --set parallel.compress=randomk --set train.epochs=2 --set output.checkpoint_every=1 \
    --set train.resume=auto
check "resumed with nothing to do: exits 0" [ $? -eq 0 ]
dataset compress/residual "$TMP/ck/checkpoint.h5" "$TMP/e2.bin"
dataset compress/rng "$TMP/ck/checkpoint.h5" "$TMP/r2.bin"
check "... and saves back the residuals restored, byte for byte" cmp -s "$TMP/e1.bin" "$TMP/e2.bin"
check "... and the streams restored, byte for byte" cmp -s "$TMP/r1.bin" "$TMP/r2.bin"
train 3 ck --set parallel.compress=randomk --set train.epochs=4 --set output.checkpoint_every=1 \
    --set train.resume=auto
check "resumed for 2 more epochs: exits 0 with 4 rows" \
    sh -c "[ $? -eq 0 ] && [ \$(tail -n +2 '$TMP/ck/metrics.csv' | wc -l) -eq 4 ]"
check "... and learns on" learns ck

# Rank 0's own mid-run checkpoint (killed while writing its 2nd) does not describe the
# workers: they resume with a zero residual and a fresh stream.
GDMPI_FAULT=checkpoint-write:2 train 3 lone --set parallel.compress=randomk --set output.checkpoint_every=1
check "ps-async, randomk: rank 0 killed while writing its 2nd checkpoint ends the job" [ $? -ne 0 ]
check "its 1st checkpoint marks the workers' residuals unknown ($(lengths lone residual))" \
    [ "$(lengths lone residual)" = "0, -1, -1" ]
train 3 lone --set parallel.compress=randomk --set output.checkpoint_every=1 --set train.resume=auto
check "resumed from it, the run completes its 4 epochs" \
    sh -c "[ $? -eq 0 ] && [ \$(tail -n +2 '$TMP/lone/metrics.csv' | wc -l) -eq 4 ]"
