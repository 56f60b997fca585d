# The bad-config corpus (tests/e2e/bad/configs/): each file's first line says
# "# expect: MESSAGE". At np=2 and np=4 every case must end within 10 s with a non-zero
# status and that message, dump no core, and leave nothing in output.dir claiming success.
. tests/lib.sh
fixture good softmax rows=300 features=4 classes=3 seed=1
cd "$TMP" || exit 1
ulimit -c unlimited 2>/dev/null
for np in $(ranks "2 4"); do
    for src in "$OLDPWD"/tests/e2e/bad/configs/*.cfg; do
        name=$(basename "$src" .cfg)
        needle=$(head -n 1 "$src" | sed -n 's/^# expect: //p')
        sed "s|@DATA@|$TMP/good.h5|" "$src" >"$TMP/$name.cfg"
        out="$TMP/runs/$name"
        # 20-unwritable-dir names its own output.dir; the others write under $TMP.
        set -- --set output.dir="$out"
        [ "$name" = 20-unwritable-dir ] && set --
        start=$(date +%s)
        timeout -k 2 10 mpirun --oversubscribe -np $np "$GDMPI" "$TMP/$name.cfg" "$@" >"$TMP/out" 2>&1
        status=$?
        took=$(($(date +%s) - start))
        claims_success=no
        [ -e "$out/model.h5" ] && claims_success=yes
        grep -qs '"status": "ok"' "$out/summary.json" && claims_success=yes
        if [ $status -ne 0 ] && [ $status -lt 124 ] && [ $took -le 10 ] && [ $claims_success = no ] \
            && grep -qF -- "$needle" "$TMP/out" && ! ls "$TMP"/core* >/dev/null 2>&1; then
            ok "np=$np bad config $name: $needle"
        else
            notok "np=$np bad config $name: status $status, ${took}s, success claimed: $claims_success; wanted: $needle"
            sed 's/^/# /' "$TMP/out" | head -n 4
        fi
    done
done
