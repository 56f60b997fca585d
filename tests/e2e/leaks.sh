# Every mode and every command once, with LeakSanitizer on in the sanitizer pass (make test
# SANITIZE=address,undefined): tests/lib.sh turns leak checking off for the other shell
# suites (it made each process several times slower), so this suite is where a leak in
# gdmpi's own code on any of these paths fails the build. In the plain pass it is a quick
# smoke test of the same paths. Each case must end with its expected status and no
# sanitizer report.
GDMPI_LEAK_CHECK=1
. tests/lib.sh

# clean NAME STATUS CMD...: CMD ends with STATUS and prints no sanitizer report.
clean() {
    name=$1 want=$2
    shift 2
    timeout -k 5 120 "$@" >"$TMP/$name.out" 2>&1
    got=$?
    if [ $got -eq "$want" ] && ! grep -q 'Sanitizer' "$TMP/$name.out"; then
        ok "$name: status $want, no sanitizer report"
    else
        notok "$name: status $got (wanted $want)"
        grep -m 12 -A 6 'Sanitizer\|error' "$TMP/$name.out" | sed 's/^/# /'
    fi
}
train() { # train NAME NP [--set ...]: the job config at NP ranks into $TMP/NAME
    name=$1 np=$2
    shift 2
    clean "$name" 0 mpirun --oversubscribe -np "$np" "$GDMPI" "$TMP/job.cfg" \
        --set output.dir="$TMP/$name" "$@"
}

fixture sm softmax rows=600 features=6 classes=3 noise=0.1 seed=3 val_rows=120
cfg job sm train.epochs=2 train.batch_size=32 output.checkpoint_every=1
STEPS="--set output.log_every=5" # steps.csv: the synchronous modes only

# data: gen, info, convert (a tiny IDX pair)
clean data-gen 0 "$GDMPI" data gen --task logreg --rows 50 --features 3 -o "$TMP/lg.h5" \
    --val "$TMP/lg-val.h5" --val-rows 20
clean data-info 0 "$GDMPI" data info "$TMP/sm.h5"
/usr/bin/python3 - "$TMP" <<'PYEOF'
import gzip, struct, sys
d = sys.argv[1]
with gzip.open(d + "/img.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 6, 2, 3) + bytes(range(36)))
with gzip.open(d + "/lab.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 6) + bytes([0, 1, 2, 1, 0, 2]))
PYEOF
clean data-convert 0 "$GDMPI" data convert idx --images "$TMP/img.gz" --labels "$TMP/lab.gz" \
    -o "$TMP/conv.h5"

# every parallel mode (ps-like modes at np=3: one server, two workers)
train allreduce 2 $STEPS
train allreduce-overlap 2 --set model.type=mlp --set model.hidden=8 --set parallel.overlap=true
for mode in ps easgd; do
    train "$mode" 3 --set parallel.mode=$mode $STEPS
done
for mode in ps-async downpour easgd-async; do
    train "$mode" 3 --set parallel.mode=$mode
done
train hogwild 2 --set parallel.mode=hogwild
train hogwild-groups 2 --set parallel.mode=hogwild --set parallel.group_size=1
train gossip 3 --set parallel.mode=gossip --set parallel.topology=ring
for c in fp16 qsgd sign; do
    train "compress-$c" 2 --set parallel.compress=$c
done
# top-k with DGC's memory: the residual and the velocity
train compress-topk-dgc 2 --set parallel.compress=topk --set parallel.compress_ratio=0.1 \
    --set parallel.momentum_correction=0.9 --set optimizer.type=sgd
train compress-powersgd 2 --set parallel.compress=powersgd --set parallel.powersgd_rank=2 \
    --set model.type=mlp --set model.hidden=8
train local-sgd 2 --set parallel.mode=local-sgd --set parallel.average_every=4 $STEPS
# compressed ps-async pushes, two servers: a compressor per slice on each worker, a decoder
# and the other slices' probes on each server, rank 0's snapshots
PSZIP="--set parallel.mode=ps-async --set parallel.servers=2 --set parallel.compress=topk --set parallel.compress_ratio=0.1"
train ps-async-topk 4 $PSZIP

# models, data orders and shares, optimizers with state
train mlp-bn 2 --set model.type=mlp --set model.hidden=8,4 --set model.batchnorm=true \
    --set optimizer.type=adam
train cnn 2 --set model.type=cnn --set data.shape=2x3x1 --set model.layers=conv2x2x3p1,maxpool2,fc4 \
    --set model.batchnorm=true --set model.dropout=0.1
train logreg 2 --set data.train="$TMP/lg.h5" --set data.val="$TMP/lg-val.h5" --set model.type=logreg
train global-shuffle 2 --set data.shuffle=global --set data.order=curriculum
train label-skew 2 --set parallel.mode=local-sgd --set data.partition=label-skew
clean testfn 0 mpirun --oversubscribe -np 2 "$GDMPI" configs/testfn-rosenbrock.cfg \
    --set output.dir="$TMP/testfn" --set train.epochs=2

# resume, eval, predict
# resume NAME NP [--set ...]: the run in $TMP/NAME resumed to a third epoch
resume() {
    name=$1 np=$2
    shift 2
    clean "$name-resumed" 0 mpirun --oversubscribe -np "$np" "$GDMPI" "$TMP/job.cfg" \
        --set output.dir="$TMP/$name" --set train.resume=auto --set train.epochs=3 "$@"
}
resume allreduce 2 $STEPS
resume ps-async 3 --set parallel.mode=ps-async
resume ps-async-topk 4 $PSZIP
# elastic: 2 -> 3 ranks at an epoch's end; 4 -> 2 in mid-epoch (max_steps 3 of 5)
resume local-sgd 3 --set parallel.mode=local-sgd --set parallel.average_every=4 $STEPS
train elastic 4 --set train.max_steps=3
resume elastic 2
clean eval-config 0 mpirun --oversubscribe -np 2 "$GDMPI" eval "$TMP/job.cfg" \
    --set output.dir="$TMP/allreduce"
clean eval-model 0 "$GDMPI" eval --model "$TMP/mlp-bn/model.h5" --data "$TMP/sm-val.h5"
clean predict 0 mpirun --oversubscribe -np 2 "$GDMPI" predict --model "$TMP/allreduce/model.h5" \
    --data "$TMP/sm-val.h5" -o "$TMP/pred.h5"
clean predict-cnn 0 "$GDMPI" predict --model "$TMP/cnn/model.h5" --data "$TMP/sm-val.h5" \
    -o "$TMP/pred-cnn.csv"
clean predict-csv 0 "$GDMPI" predict --model "$TMP/mlp-bn/model.h5" --data "$TMP/sm-val.h5" \
    -o "$TMP/pred.csv"

# the refusals: a bad key, a missing file, another run's outputs (config --check)
clean bad-key 2 mpirun --oversubscribe -np 2 "$GDMPI" "$TMP/job.cfg" --set train.epoch=3
clean missing-file 1 mpirun --oversubscribe -np 2 "$GDMPI" "$TMP/job.cfg" \
    --set data.train="$TMP/none.h5" --set output.dir="$TMP/none"
clean config-check 2 "$GDMPI" config "$TMP/job.cfg" --set output.dir="$TMP/allreduce" --check
