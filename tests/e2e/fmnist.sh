# The default job: run.cfg (softmax on Fashion-MNIST) reaches >= 0.83 test accuracy
# within its 10 epochs at np=2. Converts Debian's dataset-fashion-mnist into $TMP.
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
mpi 2 run.cfg --set data.train="$TMP/train.h5" --set data.val="$TMP/t10k.h5" --set output.dir="$TMP/run"
acc=$(csv_last val_acc "$TMP/run/metrics.csv" 2>/dev/null)
check "run.cfg reaches >= 0.83 Fashion-MNIST test accuracy in 10 epochs at np=2 (got $acc)" \
    awk -v a="${acc:-0}" 'BEGIN{exit !(a >= 0.83)}'
