# The command line (issue 17): every command has its own --help with its options and one
# example; a mistyped command is named, with the closest known one, status 2.
. tests/lib.sh

# help_lists CMD OPTION...: `gdmpi CMD --help` exits 0 and prints its usage, each option
# and an example line that runs gdmpi CMD.
help_lists() {
    hl_cmd=$1
    shift
    "$GDMPI" "$hl_cmd" --help >"$TMP/help" 2>&1 || return 1
    head -n 1 "$TMP/help" | grep -q "^usage: gdmpi $hl_cmd" || return 1
    grep -q "^example: .*gdmpi $hl_cmd " "$TMP/help" || return 1
    for hl_opt; do
        grep -qF -- "$hl_opt" "$TMP/help" || { echo "# no $hl_opt"; return 1; }
    done
}
check "gdmpi train --help: usage, --set, an example" help_lists train --set
check "gdmpi config --help: usage, --set, --reference, an example" help_lists config --set --reference
check "gdmpi eval --help: usage, --set, --model, --data, an example" help_lists eval --set --model --data
check "gdmpi predict --help: usage, --model, --data, -o, an example" help_lists predict --model --data "-o OUT"
check "gdmpi data --help: usage, gen, convert, info, an example" help_lists data "data gen" "data convert" "data info"
check "gdmpi --help names every command" sh -c '"$1" --help | grep -q "gdmpi predict" && "$1" --help | grep -q "gdmpi eval"' - "$GDMPI"

# A mistyped command: status 2, its name and the closest command (never trained as a config).
refused 2 "unknown command 'evl'; did you mean 'eval'?" evl run.cfg
refused 2 "unknown command 'predcit'; did you mean 'predict'?" predcit --model m.h5
refused 2 "unknown command 'confg'; did you mean 'config'?" confg run.cfg
refused 2 "unknown command 'trian'; did you mean 'train'?" trian
# A config file is still one, even without a '.' in its name: it reaches the config parser.
cp run.cfg "$TMP/myjob"
(cd "$TMP" && "$GDMPI" myjob --bogus) >"$TMP/myjob.out" 2>&1
check "gdmpi FILE with no '.' in its name is a config (trains), not an unknown command" \
    grep -q "unexpected argument '--bogus'" "$TMP/myjob.out"
