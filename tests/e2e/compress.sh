# Gradient compression in whole runs (parallel.compress, docs/parallel-modes.md): none moves
# a float32 allreduce's bytes; every compressor trains an mlp whose loss falls, and counts
# exactly the bytes its encoding should send; a run cut at a checkpoint and resumed ends as
# the uninterrupted one (the residual, the stream, PowerSGD's Q); bad values are config
# errors naming the key. The compressors against references: tests/unit/test_compress.c and
# tests/mpi/mpi_compress.c.
. tests/lib.sh
. tests/e2e/lib/checkpoint.sh
PY=/usr/bin/python3

# An mlp 20-16-4: weight matrices 16 x 20 and 4 x 16, 404 parameters.
fixture cls softmax rows=1600 features=20 classes=4 noise=0.3 seed=21 val_rows=200
cfg job cls model.type=mlp model.hidden=16 optimizer.type=momentum optimizer.lr=0.05 \
    train.epochs=3 train.batch_size=50 parallel.overlap=false
# train NAME ARGS...: np=2 run of job.cfg into $TMP/NAME; status in $?.
train() {
    tr_dir=$1
    shift
    mpi 2 "$TMP/job.cfg" --set output.dir="$TMP/$tr_dir" "$@"
}

# --- none is the plain allreduce: a float32 allreduce's bytes ----------------------------
# (none is the default, so a run without the key would be this same run: no check of that.)
train none --set parallel.compress=none
check "compress = none exits 0" [ $? -eq 0 ]
check "compress = none: metrics.csv counts a float32 allreduce (compression 1.00)" \
    [ "$(csv_last compression "$TMP/none/metrics.csv")" = 1.00 ]

# wire_bytes NAME BYTES: every epoch's bytes_sent and bytes_recv at np=2 is steps x (BYTES +
# the loss and count sums' 16), and summary.json's per-rank totals add up to them.
wire_bytes() {
    $PY - "$TMP/$1" "$2" <<'PYEOF'
import sys, csv, json
d, per_step = sys.argv[1], int(sys.argv[2])
s = json.load(open(d + "/summary.json"))
want = s["steps_per_epoch"] * (per_step + 16)
rows = list(csv.DictReader(open(d + "/metrics.csv")))
ok = all(float(r["bytes_sent"]) == want and float(r["bytes_recv"]) == want for r in rows)
ok = ok and all(r["bytes_sent"] == want * len(rows) for r in s["ranks"])
sys.exit(0 if ok else print("# want %d an epoch; rows %s" % (want, [r["bytes_sent"] for r in rows])) or 1)
PYEOF
}
# falls NAME: the last epoch's training loss is below the first's.
falls() { gt "$(awk -F, 'NR==2{print $5}' "$TMP/$1/metrics.csv")" "$(csv_last train_loss "$TMP/$1/metrics.csv")"; }

check "compress = none: the bytes are a float32 allreduce's (404 floats: 1616 bytes a step)" wire_bytes none 1616
# Bytes a step at np=2, n = 404: fp16/bf16 2n; topk/randomk at 0.05: k = 21, 8k; qsgd s = 7:
# one bucket norm and 4 bits a coordinate, 4 + 202; sign: 4 + ceil(404/8); powersgd r = 2:
# P (16 + 4) x 2 with the 20 biases, then Q (20 + 16) x 2, in floats.
for spec in fp16:808 bf16:808 topk:168 randomk:168 qsgd:206 sign:55 sign-vote:55 powersgd:528; do
    c=${spec%%:*} bytes=${spec#*:}
    case $c in
    sign-vote) set -- --set parallel.compress=sign --set parallel.error_feedback=false ;;
    *) set -- --set parallel.compress="$c" ;;
    esac
    train "$c" "$@" --set parallel.compress_ratio=0.05 --set parallel.powersgd_rank=2
    check "compress = $c: exits 0" [ $? -eq 0 ]
    check "compress = $c: the training loss falls" falls "$c"
    check "compress = $c: $bytes bytes a step on the wire, as its encoding says" wire_bytes "$c" "$bytes"
done

# A cnn: its pool layer has no weights; powersgd compresses the conv and fc matrices.
train cnn --set model.type=cnn --set data.shape=4x5x1 --set model.layers=conv2x2x3,maxpool2,fc4 \
    --set parallel.compress=powersgd --set parallel.powersgd_rank=1
check "compress = powersgd on a cnn with a pool layer: exits 0 (status $?)" [ -s "$TMP/cnn/model.h5" ]
check "... and the training loss falls" falls cnn

# --- resume: the compressor's state is in the checkpoint ---------------------------------
# randomk: the residual and the stream; powersgd: the residual and Q.
for c in randomk powersgd; do
    train "$c-cut" --set parallel.compress=$c --set parallel.compress_ratio=0.05 \
        --set parallel.powersgd_rank=2 --set train.max_steps=40 --set output.checkpoint_every=40s
    train "$c-cut" --set parallel.compress=$c --set parallel.compress_ratio=0.05 \
        --set parallel.powersgd_rank=2 --set output.checkpoint_every=40s --set train.resume=auto
    check "compress = $c: cut at step 40 and resumed, model.h5 is bit for bit the uninterrupted one" \
        same_model "$TMP/$c" "$TMP/$c-cut"
done

# --- DGC's momentum correction (parallel.momentum_correction) -----------------------------
# The arithmetic by hand: tests/unit/test_compress.c. Here: it trains, sends top-k's bytes,
# says so in summary.json, and its velocity is in the checkpoint (a resume is bit for bit).
DGC="--set parallel.compress=topk --set parallel.compress_ratio=0.05 --set optimizer.type=sgd
     --set parallel.momentum_correction=0.9 --set output.checkpoint_every=40s"
# shellcheck disable=SC2086
train dgc $DGC
check "momentum_correction = 0.9 with topk: exits 0 and the training loss falls" falls dgc
check "momentum_correction: top-k's 168 bytes a step" wire_bytes dgc 168
check "momentum_correction: summary.json's compress says 0.9" \
    holds dgc 'abs(s["compress"]["momentum_correction"] - 0.9) < 1e-12'
# shellcheck disable=SC2086
train dgc-off $DGC --set parallel.momentum_correction=0
differs() { [ -s "$TMP/$1/model.h5" ] && [ -s "$TMP/$2/model.h5" ] && ! same_model "$TMP/$1" "$TMP/$2"; }
check "momentum_correction: model.h5 differs from top-k with plain error feedback (the key acts)" \
    differs dgc dgc-off
# shellcheck disable=SC2086
train dgc-cut $DGC --set train.max_steps=40
# shellcheck disable=SC2086
train dgc-cut $DGC --set train.resume=auto
check "momentum_correction: cut at step 40 and resumed, model.h5 is bit for bit the uninterrupted one" \
    same_model "$TMP/dgc" "$TMP/dgc-cut"
# Every coordinate sent (ratio 1): the masking clears the whole velocity at every step, so
# what remains is plain SGD, to the byte.
train sgd --set optimizer.type=sgd
train dgc-all --set parallel.compress=topk --set parallel.compress_ratio=1 \
    --set optimizer.type=sgd --set parallel.momentum_correction=0.9
check "momentum_correction with every coordinate sent: model.h5 is plain sgd's" \
    same_model "$TMP/sgd" "$TMP/dgc-all"
refused 2 "parallel.momentum_correction = 0.9: the momentum is applied before the compressor; optimizer.type = momentum" \
    "$TMP/job.cfg" --set parallel.compress=topk --set parallel.momentum_correction=0.9 --set output.dir="$TMP/bad"
refused 2 "parallel.momentum_correction = 0.9: needs parallel.compress = topk (Deep Gradient Compression's selection), not randomk" \
    "$TMP/job.cfg" --set parallel.compress=randomk --set parallel.momentum_correction=0.9 \
    --set optimizer.type=sgd --set output.dir="$TMP/bad"
refused 2 "parallel.momentum_correction = 0.9: needs error feedback" \
    "$TMP/job.cfg" --set parallel.compress=topk --set parallel.error_feedback=false \
    --set parallel.momentum_correction=0.9 --set optimizer.type=sgd --set output.dir="$TMP/bad"
refused 2 "parallel.momentum_correction = 1: must be in [0, 1)" \
    "$TMP/job.cfg" --set parallel.compress=topk --set parallel.momentum_correction=1 \
    --set optimizer.type=sgd --set output.dir="$TMP/bad"
refused 2 "parallel.momentum_correction = 0.9: the momentum is applied before the compressor; optimizer.type = adam" \
    config "$TMP/job.cfg" --set parallel.compress=topk --set parallel.momentum_correction=0.9 \
    --set optimizer.type=adam
refused 2 "parallel.momentum_correction = 0.9: allreduce only, not parallel.mode = ps-async" \
    config "$TMP/job.cfg" --set parallel.compress=topk --set parallel.momentum_correction=0.9 \
    --set optimizer.type=sgd --set parallel.mode=ps-async

# --- bad values ---------------------------------------------------------------------------
refused 2 "parallel.compress_ratio = 0: must be in (0, 1]" config "$TMP/job.cfg" --set parallel.compress_ratio=0
refused 2 "parallel.compress_ratio = 1.5: out of range [0, 1]" config "$TMP/job.cfg" --set parallel.compress_ratio=1.5
refused 2 "parallel.compress = 'zip': unknown name (known: none|fp16|bf16|topk|randomk|qsgd|sign|powersgd)" \
    config "$TMP/job.cfg" --set parallel.compress=zip
refused 2 "parallel.qsgd_levels = 0: out of range" config "$TMP/job.cfg" --set parallel.qsgd_levels=0
refused 2 "parallel.powersgd_rank = 5: must be in [1, 4], the smaller side of the 4 x 16 weight matrix" \
    "$TMP/job.cfg" --set parallel.compress=powersgd --set parallel.powersgd_rank=5 --set output.dir="$TMP/bad"
refused 2 "parallel.compress = topk: not with parallel.overlap = true" \
    "$TMP/job.cfg" --set parallel.compress=topk --set parallel.overlap=true --set output.dir="$TMP/bad"
refused 2 "parallel.compress = sign: parallel.mode = local-sgd does not compress" \
    "$TMP/job.cfg" --set parallel.compress=sign --set parallel.mode=local-sgd --set output.dir="$TMP/bad"
