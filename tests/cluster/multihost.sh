# A real multi-host run: 3 network-namespace hosts (tests/cluster/netns.sh), gdmpi
# started by mpirun from a hostfile that names them, ranks talking over the TCP BTL
# (shared memory is not possible across hosts). Checked as the MPI tests check: the
# numbers equal those of the same run on one machine. Then hosts are cut off in mid-run
# and the job must end with a clear error within a bounded time. Needs root and
# CAP_NET_ADMIN; skips with a message where they are missing.
. tests/lib.sh
. tests/cluster/netns.sh

if ! why=$(netns_capable); then
    echo "ok - multi-host tests # SKIP cannot make network namespaces here: $why"
    exit 0
fi
# Everything this test creates goes, also when it fails or is interrupted.
trap 'netns_down; rm -rf "$TMP"' EXIT
if ! netns_up 3; then
    notok "3 namespace hosts come up"
    exit 1
fi
ok "3 namespace hosts come up:$GDC_HOSTS (management 198.18.0.0/24, data 198.18.1.0/24)"

for h in $GDC_HOSTS; do echo "$h slots=1"; done >"$TMP/hosts"

# The hostfile places one rank per host: each rank sees a different data address.
# (Each rank writes a file: mpirun may drop the output of processes this short.)
gdc_mpirun --hostfile "$TMP/hosts" -np 3 sh -c \
    "ip -4 -o addr show dev eth1 >$TMP/where.\$OMPI_COMM_WORLD_RANK" >"$TMP/out" 2>&1
one_per_host() {
    [ "$(cat "$TMP"/where.* | grep -o '198\.18\.1\.1[123]/' | sort -u | wc -l)" -eq 3 ]
}
check "hostfile: 3 ranks land on 3 different hosts" one_per_host

gen --task softmax --rows 2000 --features 10 --classes 3 --seed 1 -o "$TMP/X.h5" \
    --val "$TMP/V.h5" --val-rows 500
cat >"$TMP/job.cfg" <<CFG
[data]
train = $TMP/X.h5
val = $TMP/V.h5
[train]
epochs = 5
batch_size = 32
CFG

# same_metrics A B COLUMNS: the two metrics.csv agree in those columns (relative 1e-5).
same_metrics() {
    paste -d, "$1/metrics.csv" "$2/metrics.csv" | awk -F, -v cols="$3" '
        NR == 1 { n = split(cols, want, " "); for (i = 1; i <= NF / 2; i++) idx[$i] = i; next }
        { rows++
          for (k = 1; k <= n; k++) {
              c = idx[want[k]]; a = $c; b = $(c + NF / 2); d = a - b; if (d < 0) d = -d
              m = a < 0 ? -a : a; if (d > 1e-5 * m + 1e-7) bad = 1 } }
        END { exit !(rows > 0 && !bad) }'
}
status_ok() { grep -q '"status": "ok"' "$1/summary.json" && [ -s "$1/model.h5" ]; }

# allreduce: 3 hosts over TCP give the numbers of 3 ranks on one machine.
gdc_mpirun --hostfile "$TMP/hosts" -np 3 "$GDMPI" "$TMP/job.cfg" \
    --set output.dir="$TMP/hosts3" >"$TMP/out" 2>&1
status=$?
check "allreduce on 3 hosts over TCP: exit status 0 (was $status)" [ "$status" -eq 0 ]
[ "$status" -eq 0 ] || tail -n 20 "$TMP/out" | sed 's/^/# /'
check "allreduce on 3 hosts: summary.json says ok, model.h5 written" status_ok "$TMP/hosts3"
acc_high() { gt "$(csv_last val_acc "$TMP/hosts3/metrics.csv")" 0.9; }
check "allreduce on 3 hosts: val_acc > 0.9" acc_high
mpi 3 "$TMP/job.cfg" --set output.dir="$TMP/local3"
check "allreduce on 3 hosts equals 3 local ranks (train_loss, val_loss, val_acc, samples)" \
    same_metrics "$TMP/hosts3" "$TMP/local3" "train_loss val_loss val_acc samples"

# Full-batch GD: the same computation at any rank count (3 hosts vs 1 local rank).
gdc_mpirun --hostfile "$TMP/hosts" -np 3 "$GDMPI" "$TMP/job.cfg" --set train.batch_size=full \
    --set train.epochs=10 --set optimizer.lr=0.5 --set output.dir="$TMP/full3" >"$TMP/out" 2>&1
mpi 1 "$TMP/job.cfg" --set train.batch_size=full --set train.epochs=10 --set optimizer.lr=0.5 \
    --set output.dir="$TMP/full1"
check "full-batch GD: 3 hosts and 1 local rank agree within 1e-5 (train_loss, val_loss)" \
    same_metrics "$TMP/full3" "$TMP/full1" "train_loss val_loss"

# Parameter server, synchronous: rank 0 serves, ranks 1 and 2 work, on different hosts;
# deterministic, so the numbers equal those of 3 local ranks.
if "$GDMPI" config "$TMP/job.cfg" --set parallel.mode=ps >/dev/null 2>&1; then
    gdc_mpirun --hostfile "$TMP/hosts" -np 3 "$GDMPI" "$TMP/job.cfg" \
        --set parallel.mode=ps --set output.dir="$TMP/pss3" >"$TMP/out" 2>&1
    status=$?
    check "ps (sync) on 3 hosts over TCP: exit status 0 (was $status)" [ "$status" -eq 0 ]
    [ "$status" -eq 0 ] || tail -n 20 "$TMP/out" | sed 's/^/# /'
    mpi 3 "$TMP/job.cfg" --set parallel.mode=ps --set output.dir="$TMP/pss-local3"
    check "ps (sync) on 3 hosts equals 3 local ranks (train_loss, val_loss, val_acc, samples)" \
        same_metrics "$TMP/pss3" "$TMP/pss-local3" "train_loss val_loss val_acc samples"
else
    ok "ps (sync) on 3 hosts # SKIP this gdmpi has no parallel.mode = ps yet"
fi

# Parameter server, asynchronous: rank 0 serves, ranks 1 and 2 work, on different hosts.
if "$GDMPI" config "$TMP/job.cfg" --set parallel.mode=ps-async >/dev/null 2>&1; then
    gdc_mpirun --hostfile "$TMP/hosts" -np 3 "$GDMPI" "$TMP/job.cfg" \
        --set parallel.mode=ps-async --set output.dir="$TMP/ps3" >"$TMP/out" 2>&1
    status=$?
    check "ps-async on 3 hosts over TCP: exit status 0 (was $status)" [ "$status" -eq 0 ]
    [ "$status" -eq 0 ] || tail -n 20 "$TMP/out" | sed 's/^/# /'
    check "ps-async on 3 hosts: summary.json says ok, model.h5 written" status_ok "$TMP/ps3"
    ps_learns() {
        gt "$(csv_last val_acc "$TMP/ps3/metrics.csv")" 0.9 &&
            gt "$(awk -F, 'NR==2{print $5}' "$TMP/ps3/metrics.csv")" \
                "$(csv_last train_loss "$TMP/ps3/metrics.csv")"
    }
    check "ps-async on 3 hosts: the loss falls and val_acc > 0.9" ps_learns
else
    ok "ps-async on 3 hosts # SKIP this gdmpi has no parallel.mode = ps-async yet"
fi

# A long job to cut in mid-run (it would run for hours, but gdc_mpirun stops it after
# GDC_TIMEOUT s); ARGS: extra mpirun arguments; LONG_SETS: extra --set options.
cat >"$TMP/long.cfg" <<CFG
[data]
train = $TMP/X.h5
[train]
epochs = 100000
batch_size = 32
CFG
GDC_TIMEOUT=90
long_run() {
    rm -rf "$TMP/long"
    : >"$TMP/long.out" # not the last run's epochs
    # shellcheck disable=SC2086
    gdc_mpirun "$@" --hostfile "$TMP/hosts" -np 3 "$GDMPI" "$TMP/long.cfg" \
        --set output.dir="$TMP/long" $LONG_SETS >"$TMP/long.out" 2>&1 &
    long_pid=$!
    # Wait until training runs: rank 0 has printed epochs (60 s at most).
    wait_for "$TMP/long.out" '^epoch' 3 60 "$long_pid"
}
# ends_in_bound: the job ended by itself (not by gdc_mpirun's timeout) with an error.
ends_in_bound() { [ "$long_status" -ne 0 ] && [ "$long_status" -ne 124 ] && [ "$long_status" -ne 137 ]; }
# no_leftovers: no process is left on the hosts (within 20 s).
no_leftovers() {
    i=0
    while [ -n "$(netns_leftovers)" ] && [ $i -lt 200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -z "$(netns_leftovers)" ]
}

# Host 3 loses the data network: its daemon still talks to mpirun, but the ranks' messages
# stop, and TCP alone would wait for many minutes. The stall watchdog
# (parallel.stall_timeout) ends the job, naming the waiting ranks.
wired() { grep -rqs 'gd_watchdog_start' src --include='*.c' --exclude=watchdog.c; }
if ! "$GDMPI" config "$TMP/job.cfg" --set parallel.stall_timeout=5 >/dev/null 2>&1; then
    ok "data network cut: stall watchdog ends the job # SKIP no parallel.stall_timeout in this gdmpi"
elif ! wired; then
    ok "data network cut: stall watchdog ends the job # SKIP the watchdog is not wired into training yet"
else
    LONG_SETS="--set parallel.stall_timeout=5"
    long_run
    netns_cut 3 data
    wait "$long_pid"
    long_status=$?
    check "data network cut: the job ends by itself within 90 s (status $long_status)" ends_in_bound
    stall_line() {
        grep -Eq '^gdmpi: error: rank [0-2]: no progress for [0-9]+ s in .* at step [0-9]+; waiting for .* \(stall_timeout\)$' \
            "$TMP/long.out"
    }
    check "data network cut: a rank reports the stall (gdmpi: error: rank R: no progress ...)" stall_line
    grep 'no progress' "$TMP/long.out" | sed 's/^/# /'
    stall_line || tail -n 20 "$TMP/long.out" | sed 's/^/# /'
    check "data network cut: no process is left on the hosts" no_leftovers
fi

# Host 3 is cut off entirely (a dead host). mpirun's daemons then cannot reach it either;
# TCP keepalive on their connections (oob_tcp_keepalive_*, as docs/cluster.md recommends) makes
# mpirun notice and end the job, naming the host, before the watchdog's timeout.
netns_down
netns_up 3 || { notok "3 namespace hosts come up again"; exit 1; }
LONG_SETS=""
if "$GDMPI" config "$TMP/job.cfg" --set parallel.stall_timeout=60 >/dev/null 2>&1; then
    LONG_SETS="--set parallel.stall_timeout=60"
fi
long_run --mca oob_tcp_keepalive_time 1 --mca oob_tcp_keepalive_intvl 1 \
    --mca oob_tcp_keepalive_probes 3
netns_cut 3 all
wait "$long_pid"
long_status=$?
check "host cut off: the job ends by itself within 90 s (status $long_status)" ends_in_bound
lost_host() { grep -q 'lost communication with a remote daemon' "$TMP/long.out" &&
              grep -q 'Remote daemon: .* on node 198\.18\.0\.13' "$TMP/long.out"; }
check "host cut off: mpirun names the lost host 198.18.0.13" lost_host
lost_host || tail -n 20 "$TMP/long.out" | sed 's/^/# /'
check "host cut off: no process is left on the hosts" no_leftovers
