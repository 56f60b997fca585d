#!/bin/sh
# A real one-node Slurm on this machine, for testing gdmpi.sbatch: munged, slurmctld and
# slurmd from Debian's slurm-wlm and munge packages (installed here when missing; `make
# test` never needs them), with a minimal slurm.conf: one node with this machine's cores,
# proctrack/linuxproc, task/none (no cgroups), select/cons_tres, no accounting.
#
#   scripts/slurm/local-cluster.sh start    # install if needed, write the config, start
#   scripts/slurm/local-cluster.sh status   # the daemons and sinfo
#   scripts/slurm/local-cluster.sh stop     # stop what start started, remove its files
#   scripts/slurm/local-cluster.sh env      # prints: export SLURM_CONF=...
#
# Everything lives in $GDMPI_SLURM_DIR (default /run/gdmpi-slurm): slurm.conf, state,
# spool, logs and pid files. Clients (sbatch, squeue, sinfo) find the config through
# SLURM_CONF, so nothing is written to /etc/slurm. The daemons talk over loopback only
# (127.0.0.1, ports 6817 and 6818). A munged that already answers is reused and left
# running; one started here is stopped by `stop`. Runs as root.
set -eu

DIR=${GDMPI_SLURM_DIR:-/run/gdmpi-slurm}
CONF=$DIR/slurm.conf
NODE=$(hostname -s)
export SLURM_CONF="$CONF"

say() { echo "local-cluster: $*"; }
die() {
    echo "local-cluster: error: $*" >&2
    exit 1
}

install_missing() {
    missing=""
    for p in slurmctld slurmd slurm-client munge; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_ok; then
        say "munged already answers; using it"
        return 0
    fi
    [ -s /etc/munge/munge.key ] || die "no /etc/munge/munge.key (the munge package makes one)"
    mkdir -p /run/munge
    chown munge:munge /run/munge
    chmod 0755 /run/munge
    # munged refuses to run as root; the package's service runs it as munge.
    su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid" ||
        die "munged did not start (see /var/log/munge/munged.log)"
    cp /run/munge/munged.pid "$DIR/munged.pid"
    i=0
    until munge_ok; do
        i=$((i + 1))
        [ $i -lt 50 ] || die "munged does not answer (see /var/log/munge/munged.log)"
        sleep 0.1
    done
}

write_conf() {
    # This machine as slurmd sees it: CPUs, sockets, cores, threads, memory.
    hw=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]* //')
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$CONF" <<CONF
# Written by scripts/slurm/local-cluster.sh: a one-node cluster for testing.
ClusterName=gdmpi-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: processes are tracked through their parents, tasks are not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=300
SlurmdTimeout=120
NodeName=$NODE NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_idle() { sinfo -h -n "$NODE" -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; }

start() {
    [ "$(id -u)" -eq 0 ] || die "run as root"
    install_missing
    if alive "$DIR/slurmctld.pid" || alive "$DIR/slurmd.pid"; then
        say "already running ($DIR)"
        return 0
    fi
    mkdir -p "$DIR"
    write_conf
    start_munge
    slurmctld -f "$CONF" -i || die "slurmctld did not start: $(tail -n 5 "$DIR/log/slurmctld.log" 2>/dev/null)"
    slurmd -f "$CONF" || die "slurmd did not start: $(tail -n 5 "$DIR/log/slurmd.log" 2>/dev/null)"
    i=0
    until node_idle; do
        i=$((i + 1))
        if [ $i -eq 20 ]; then scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true; fi
        if [ $i -ge 300 ]; then
            sinfo -N -l >&2 || true
            tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
            die "node $NODE did not become idle in 30 s"
        fi
        sleep 0.1
    done
    say "up: node $NODE idle; export SLURM_CONF=$CONF"
}

# stop_daemon PIDFILE NAME: SIGTERM, then SIGKILL after 10 s.
stop_daemon() {
    alive "$1" || return 0
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$2 ($pid) did not stop; killing it"
        kill -9 "$pid" 2>/dev/null || true
    fi
}

stop() {
    if [ -f "$CONF" ] && alive "$DIR/slurmctld.pid"; then
        scancel --full --quiet -u root 2>/dev/null || true
    fi
    stop_daemon "$DIR/slurmd.pid" slurmd
    stop_daemon "$DIR/slurmctld.pid" slurmctld
    stop_daemon "$DIR/munged.pid" munged
    rm -rf "$DIR"
    say "stopped"
}

status() {
    for d in slurmctld slurmd munged; do
        if alive "$DIR/$d.pid"; then echo "$d: running ($(cat "$DIR/$d.pid"))"; else echo "$d: not running (started here)"; fi
    done
    if [ -f "$CONF" ]; then sinfo; fi
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
env) echo "export SLURM_CONF=$CONF" ;;
*)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
