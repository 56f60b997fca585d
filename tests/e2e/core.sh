# End-to-end: whole runs on generated data with known true weights.
. tests/lib.sh
PY=/usr/bin/python3

# linreg recovers w_true and b_true within 0.05 at noise 0.1.
fixture lin linreg rows=4000 features=8 noise=0.1 seed=3
cfg lin lin model.type=linreg train.epochs=15 train.batch_size=32 optimizer.lr=0.05 output.dir="$TMP/lin"
mpi 2 "$TMP/lin.cfg"
check "linreg run at np=2 exits 0" [ $? -eq 0 ]
recovered() {
    $PY - "$TMP/lin.h5" "$TMP/lin/model.h5" <<'PYEOF'
import sys, h5py, numpy as np
d, m = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
err = max(np.abs(m["W"][0] - d["w_true"][()]).max(), abs(m["b"][0] - d["b_true"][()].ravel()[0]))
sys.exit(0 if err < 0.05 else print("max error", err) or 1)
PYEOF
}
check "linreg recovers the true weights within 0.05 at noise 0.1" recovered

# logreg and softmax reach > 0.95 validation accuracy.
fixture log logreg rows=4000 features=10 noise=0.1 seed=4 val_rows=1000
fixture sm softmax rows=6000 features=10 classes=4 noise=0.1 seed=5 val_rows=1000
for model in logreg softmax; do
    short=$( [ $model = logreg ] && echo log || echo sm )
    cfg $model $short model.type=$model train.epochs=10 train.batch_size=32 optimizer.lr=0.5 \
        output.dir="$TMP/$model"
    mpi 2 "$TMP/$model.cfg"
    check "$model reaches > 0.95 validation accuracy at np=2" gt "$(csv_last val_acc "$TMP/$model/metrics.csv")" 0.95
done

# Outputs are well formed: metrics.csv columns, summary.json parses, model.h5 attributes.
outputs_ok() {
    $PY - "$TMP/softmax" <<'PYEOF'
import sys, json, csv, h5py
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/metrics.csv")))
assert len(rows) == 10 and rows[-1]["epoch"] == "10", rows[-1]
for col in ("train_loss", "val_loss", "val_acc", "lr", "samples_per_s", "compute_frac", "comm_frac", "wait_frac", "wall_s", "samples", "step"):
    float(rows[-1][col])
s = json.load(open(d + "/summary.json"))
assert s["status"] == "ok" and s["ranks_total"] == 2 and len(s["ranks"]) == 2
assert s["config"]["model"]["type"] == "softmax" and s["versions"]["hdf5"]
m = h5py.File(d + "/model.h5", "r")
assert m.attrs["model_type"] in (b"softmax", "softmax") and m["W"].shape == (4, 10)
PYEOF
}
check "metrics.csv, summary.json and model.h5 are well formed" outputs_ok
no_tmp_left() { ! ls "$TMP/softmax" | grep -q '\.tmp$'; }
check "no temporary files are left in output.dir" no_tmp_left

# gdmpi eval reads the model back and agrees with the last validation accuracy.
"$GDMPI" eval "$TMP/softmax.cfg" >"$TMP/eval.out" 2>&1
eval_agrees() {
    acc=$(awk '/^accuracy/{print $2}' "$TMP/eval.out")
    awk -v a="$acc" -v b="$(csv_last val_acc "$TMP/softmax/metrics.csv")" 'BEGIN{d=a-b; exit !(d < 1e-3 && d > -1e-3)}'
}
check "gdmpi eval CONFIG reproduces the final validation accuracy" eval_agrees
"$GDMPI" eval --model "$TMP/softmax/model.h5" --data "$TMP/sm-val.h5" >"$TMP/eval2.out" 2>&1
check "gdmpi eval --model --data prints loss and accuracy" grep -q '^accuracy 0\.9' "$TMP/eval2.out"

# gdmpi config prints every key, resolved, with --set applied.
"$GDMPI" config "$TMP/softmax.cfg" --set optimizer.lr=0.1 >"$TMP/resolved.cfg"
check "gdmpi config prints the resolved config with overrides, reals shortest (lr = 0.1)" grep -q '^lr = 0.1 ' "$TMP/resolved.cfg"
check "gdmpi --version names Open MPI, OpenBLAS and HDF5" sh -c "'$GDMPI' --version | grep -q 'hdf5: 1\.'"

# The generator is reproducible: same seed, same file contents.
fixture a softmax rows=50 features=3 classes=3 seed=9
fixture b softmax rows=50 features=3 classes=3 seed=9
same_data() { [ "$(h5dump -d X "$TMP/a.h5" | tail -n +2)" = "$(h5dump -d X "$TMP/b.h5" | tail -n +2)" ]; }
check "data gen with the same seed writes the same data" same_data

# data gen and data convert end with what they wrote, read back from the file.
"$GDMPI" data gen --task softmax --rows 120 --features 7 --classes 3 -o "$TMP/said.h5" \
    --val "$TMP/said-val.h5" --val-rows 30 >"$TMP/said.out"
check "data gen ends with 'wrote N rows x D features to PATH' for each file" \
    [ "$(cat "$TMP/said.out")" = "wrote 120 rows x 7 features to $TMP/said.h5
wrote 30 rows x 7 features to $TMP/said-val.h5" ]
$PY - "$TMP" <<'PYEOF'
import gzip, struct, sys
d = sys.argv[1]
with gzip.open(d + "/img.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 5, 3, 4) + bytes(range(60)))
with gzip.open(d + "/lab.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 5) + bytes([0, 1, 2, 1, 0]))
PYEOF
"$GDMPI" data convert idx --images "$TMP/img.gz" --labels "$TMP/lab.gz" -o "$TMP/conv.h5" >"$TMP/conv.out"
check "data convert ends with 'wrote 5 rows x 12 features to PATH'" \
    [ "$(cat "$TMP/conv.out")" = "wrote 5 rows x 12 features to $TMP/conv.h5" ]
