#!/bin/sh
# A real slow network to study on: runs gdmpi on network-namespace hosts (the hosts of
# `make test-cluster`, tests/cluster/netns.sh) whose data links are shaped with tc's token
# bucket filter, so the ranks' messages cross real TCP at that bandwidth.
#
#   scripts/slow-network.sh [--rate 100mbit] [--hosts 3] [--np 3] CONFIG [gdmpi args...]
#
# One rank per host (round robin beyond that). Each host's data link is shaped both ways
# (the host's eth1 egress and its bridge port's), like a full-duplex NIC at RATE. This
# machine's kernel has tbf and htb but not netem: add latency with gdmpi's own
# parallel.delay_us. After the run it prints the bytes each shaped link carried, beside
# what gdmpi counted (metrics.csv's bytes_sent). Needs root (namespaces, tc). Environment:
# GDMPI (./gdmpi), BURST (tbf's bucket: 128kb), GDC_TIMEOUT (seconds: 3600).
set -u
cd "$(dirname "$0")/.." || exit 2
RATE=100mbit HOSTS=3 NP=""
while [ $# -gt 0 ]; do
    case $1 in
    --rate) RATE=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --np) NP=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--rate R] [--hosts H] [--np N] CONFIG [gdmpi args...]" >&2; exit 2; }
NP=${NP:-$HOSTS}
GDMPI=$(realpath "${GDMPI:-./gdmpi}")
BURST=${BURST:-128kb}
export GDC_TIMEOUT=${GDC_TIMEOUT:-3600} OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

. tests/cluster/netns.sh
if ! why=$(netns_capable); then
    echo "slow-network: cannot make network namespaces here: $why" >&2
    exit 2
fi
WORK=$(mktemp -d)
trap 'netns_down; rm -rf "$WORK"' EXIT
netns_up "$HOSTS" || { echo "slow-network: the namespace hosts did not come up" >&2; exit 1; }

# shape NS DEV: a token bucket at RATE on DEV's egress (NS: its namespace, or "" for root).
shape() {
    if [ -n "$1" ]; then
        ip netns exec "$1" tc qdisc replace dev "$2" root tbf rate "$RATE" burst "$BURST" latency 100ms
    else
        tc qdisc replace dev "$2" root tbf rate "$RATE" burst "$BURST" latency 100ms
    fi || { echo "slow-network: tc tbf on $2 failed (is sch_tbf available?)" >&2; exit 1; }
}

i=1
for h in $GDC_HOSTS; do
    shape "$(gdc_ns "$h")" eth1 # out of host i
    shape "" "gdcd$i"           # into host i
    echo "$h slots=$(((NP + HOSTS - 1) / HOSTS))"
    i=$((i + 1))
done >"$WORK/hosts"
echo "slow-network: $HOSTS hosts, data links shaped to $RATE each way (tbf, burst $BURST), np=$NP"

gdc_mpirun --hostfile "$WORK/hosts" --map-by node -np "$NP" "$GDMPI" "$@"
status=$?

# sent_bytes NS DEV: the bytes DEV's qdisc sent.
sent_bytes() {
    if [ -n "$1" ]; then ip netns exec "$1" tc -s qdisc show dev "$2"; else tc -s qdisc show dev "$2"; fi |
        awk '/Sent/ { print $2; exit }'
}
i=1
for h in $GDC_HOSTS; do
    echo "slow-network: host $h: $(sent_bytes "$(gdc_ns "$h")" eth1) bytes out, $(sent_bytes "" "gdcd$i") bytes in (TCP/IP headers, Open MPI's start-up and the data shards sent at start-up included)"
    i=$((i + 1))
done
exit $status
