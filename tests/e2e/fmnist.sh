# The default job: run.cfg (the 784-256-128-10 MLP on Fashion-MNIST) reaches >= 0.88 test
# accuracy within its 10 epochs at np=2 (0.8886 measured; no linear model gets there: the
# softmax of configs/fmnist-softmax.cfg reaches 0.834). Converts Debian's
# dataset-fashion-mnist into $TMP. The sanitizer pass, where the MLP runs several times
# slower, trains 2 epochs (0.865 measured) and asks for >= 0.85.
. tests/lib.sh
SRC=/usr/share/datasets/fashion-mnist
if [ ! -f $SRC/train-images-idx3-ubyte.gz ]; then
    notok "Fashion-MNIST is missing: install dataset-fashion-mnist (make deps)"
    exit 0
fi
for part in train t10k; do
    "$GDMPI" data convert idx --images $SRC/$part-images-idx3-ubyte.gz \
        --labels $SRC/$part-labels-idx1-ubyte.gz -o "$TMP/$part.h5" >/dev/null
done
epochs=10 want=0.88
[ -z "${GDMPI_SANITIZE:-}" ] || { epochs=2 want=0.85; }
timeout -k 5 300 mpirun --oversubscribe -np 2 "$GDMPI" run.cfg --set data.train="$TMP/train.h5" \
    --set data.val="$TMP/t10k.h5" --set output.dir="$TMP/run" --set train.epochs=$epochs >"$TMP/out" 2>&1
acc=$(csv_last val_acc "$TMP/run/metrics.csv" 2>/dev/null)
check "run.cfg reaches >= $want Fashion-MNIST test accuracy in $epochs epochs at np=2 (got $acc)" \
    awk -v a="${acc:-0}" -v w=$want 'BEGIN{exit !(a >= w)}'

# make run ends with scripts/run-summary: the accuracy beside the baselines (the file was
# converted from Fashion-MNIST), where the outputs are, what to try next.
/usr/bin/python3 scripts/run-summary "$TMP/run" "$TMP/t10k.h5" >"$TMP/summary" 2>&1
check "run-summary names the accuracy the run reached ($acc)" \
    grep -q "^$TMP/run: test accuracy $(printf %.4f "${acc:-0}") after $epochs epochs .* at np=2 (MLP 784-256-128-10, allreduce)" "$TMP/summary"
check "... beside Fashion-MNIST's published baselines" grep -q 'logistic regression 0.842' "$TMP/summary"
check "... with the outputs and the next commands" \
    sh -c "grep -q 'outputs: *$TMP/run/{model.h5' '$TMP/summary' && grep -q 'gdmpi predict --model $TMP/run/model.h5' '$TMP/summary'"
fixture gen softmax rows=100 features=4 classes=3 seed=2
/usr/bin/python3 scripts/run-summary "$TMP/run" "$TMP/gen.h5" >"$TMP/summary" 2>&1
check "... and no Fashion-MNIST baselines for other data" sh -c "! grep -q baselines '$TMP/summary'"
