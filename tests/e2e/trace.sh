# End-to-end: output.trace writes trace.json, a Chrome trace-event timeline with one
# track per rank, valid JSON, the expected span names on every rank, and a size bounded
# by output.trace_steps.
. tests/lib.sh
PY=/usr/bin/python3

fixture sm softmax rows=2000 features=10 classes=4 noise=0.1 seed=5 val_rows=500
cfg tr sm train.epochs=3 train.batch_size=32 output.dir="$TMP/tr" output.trace=true output.trace_steps=5

# check_trace FILE RANKS STEPS: valid JSON; every rank has its named track and compute,
# comm, io and eval spans; no compute or comm span after step STEPS - 1; later spans
# counted as dropped; ts and dur non-negative. Prints what is wrong.
check_trace() {
    "$PY" - "$@" <<'PY'
import json, sys
path, ranks, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = json.load(open(path))
ev = d["traceEvents"]
bad = []
for r in range(ranks):
    mine = [e for e in ev if e.get("pid") == r]
    names = {e["name"] for e in mine if e["ph"] == "X"}
    for want in ("compute", "comm", "io", "eval"):
        if want not in names:
            bad.append("rank %d has no %s span" % (r, want))
    if not any(e["ph"] == "M" and e["name"] == "thread_name" for e in mine):
        bad.append("rank %d has no track name" % r)
    late = [e for e in mine if e["ph"] == "X" and e["name"] in ("compute", "comm")
            and e["args"]["step"] >= steps]
    if late:
        bad.append("rank %d: %d step spans after trace_steps" % (r, len(late)))
    if any(e["ph"] == "X" and (e["ts"] < 0 or e["dur"] < 0) for e in mine):
        bad.append("rank %d: negative ts or dur" % r)
if {e["pid"] for e in ev} != set(range(ranks)):
    bad.append("tracks %s, expected ranks 0..%d" % (sorted({e["pid"] for e in ev}), ranks - 1))
if len(d["otherData"]["dropped"]) != ranks or min(d["otherData"]["dropped"]) <= 0:
    bad.append("dropped %s" % d["otherData"]["dropped"])
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}

mpi 2 "$TMP/tr.cfg"
check "trace run at np=2 exits 0" [ $? -eq 0 ]
check "trace.json is valid and has compute, comm, io, eval spans on both ranks, steps 0..4 only" \
    check_trace "$TMP/tr/trace.json" 2 5
check "no trace.json.tmp left behind" [ ! -e "$TMP/tr/trace.json.tmp" ]

mpi 3 "$TMP/tr.cfg" --set output.dir="$TMP/tr3" --set output.trace_steps=2
check "np=3: three tracks, steps 0..1 only" check_trace "$TMP/tr3/trace.json" 3 2

# The size grows with trace_steps, not with the run's length.
mpi 2 "$TMP/tr.cfg" --set output.dir="$TMP/long" --set train.epochs=12
size_of() { wc -c <"$1"; }
check "12 epochs give a trace about as large as 3 ($(size_of "$TMP/long/trace.json") vs $(size_of "$TMP/tr/trace.json") bytes)" \
    [ "$(size_of "$TMP/long/trace.json")" -lt $(($(size_of "$TMP/tr/trace.json") * 2)) ]

# An asynchronous parameter server (where gdmpi has one): a track per rank, the server's
# too, the workers' compute and comm spans, and the server's apply spans.
if "$GDMPI" config --reference | grep -q '^| `parallel.mode` .*ps-async'; then
    mpi 3 "$TMP/tr.cfg" --set output.dir="$TMP/async" --set parallel.mode=ps-async
    check "ps-async at np=3 with a trace exits 0" [ $? -eq 0 ]
    "$PY" - "$TMP/async/trace.json" >"$TMP/async.out" 2>&1 <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
names = lambda r: {e["name"] for e in ev if e.get("pid") == r and e["ph"] == "X"}
assert {e["pid"] for e in ev} == {0, 1, 2}, "tracks %s" % {e["pid"] for e in ev}
for r in (1, 2):
    assert {"compute", "comm"} <= names(r), "worker %d: %s" % (r, names(r))
assert "apply" in names(0), "server: %s" % names(0)
PY
    check "ps-async trace: three tracks, workers compute and communicate, the server applies" [ $? -eq 0 ]
    sed 's/^/# /' "$TMP/async.out"
fi

mpi 2 "$TMP/tr.cfg" --set output.dir="$TMP/off" --set output.trace=false
check "output.trace = false writes no trace.json" [ ! -e "$TMP/off/trace.json" ]

mpi 2 "$TMP/tr.cfg" --set output.trace_steps=0
status=$?
check "output.trace_steps = 0 is a config error (status $status)" [ "$status" -eq 2 ]
check "the error names output.trace_steps" grep -q "trace_steps" "$TMP/out"
