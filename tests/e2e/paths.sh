# Relative paths in a config file resolve against the config file's folder, so a config
# works from any working directory; a --set path resolves against the working directory.
# The shipped configs find the repository's data/ that way.
. tests/lib.sh

fixture sm softmax rows=300 features=4 classes=3 noise=0.1 seed=8 val_rows=60
mkdir -p "$TMP/proj/data" "$TMP/proj/cfgs" "$TMP/elsewhere"
cp "$TMP/sm.h5" "$TMP/proj/data/train.h5" && cp "$TMP/sm-val.h5" "$TMP/proj/data/val.h5"
printf '[data]\ntrain = ../data/train.h5\nval = ../data/val.h5\n[train]\nepochs = 1\n[output]\ndir = out\n' \
    >"$TMP/proj/cfgs/job.cfg"

# From another directory, with the config named by a relative path.
(cd "$TMP/elsewhere" && timeout 60 "$GDMPI" ../proj/cfgs/job.cfg >"$TMP/out" 2>&1)
check "a config with relative paths trains from another working directory (status $?)" \
    [ -s "$TMP/proj/cfgs/out/model.h5" ]
check "... its output.dir is in the config's folder, not the working directory" \
    [ ! -e "$TMP/elsewhere/out" ]
(cd "$TMP/elsewhere" && "$GDMPI" config ../proj/cfgs/job.cfg --set output.dir=mine >"$TMP/cfg.out")
check "a --set path stays relative to the working directory" grep -q '^dir = mine ' "$TMP/cfg.out"
check "gdmpi config prints a file's path as resolved from the working directory" \
    grep -q '^train = \.\./proj/cfgs/\.\./data/train\.h5 ' "$TMP/cfg.out"

# The shipped configs: data/ of the repository, from the repository root.
for f in run.cfg configs/linreg.cfg configs/fmnist-mlp.cfg configs/optimizers/adam.cfg \
    configs/architectures/ps.cfg; do
    train=$("$GDMPI" config "$f" | awk '$1 == "train" {print $3}')
    in_data() { $PY -c 'import os, sys; sys.exit(os.path.normpath(os.path.dirname(sys.argv[1])) != "data")' "$1"; }
    check "$f's data.train is in the repository's data/ ($train)" in_data "$train"
done
