# Simulated hosts on one machine: each "host" is a network namespace with two links, as
# on a cluster: a management network that Open MPI's daemons use to start the job and
# forward output (oob), and a data network that the ranks' messages use (btl tcp).
# Sourced by tests/cluster/*.sh from the top of the tree; by hand:
#   . tests/cluster/netns.sh; netns_up 3; gdc_mpirun --hostfile ... ; netns_down
#
# Addresses come only from the benchmarking range 198.18.0.0/15 (RFC 2544):
#   management 198.18.0.0/24: bridge gdcbr0 = 198.18.0.1 (the head node, where mpirun
#                             runs, in the root namespace); host i = 198.18.0.(10+i)
#   data       198.18.1.0/24: bridge gdcbr1 = 198.18.1.1; host i = 198.18.1.(10+i)
# Host i lives in namespace gdc-198.18.0.(10+i) with eth0 (management) and eth1 (data);
# its bridge ports are gdcm<i> and gdcd<i>. The namespaces have no route beyond their two
# /24s and loopback, IPv6 is off on every link made here, and mpirun is told to use only
# these /24s, so no traffic goes anywhere else.
#
# Names are fixed (gdc-*), so one cluster test runs at a time: netns_up takes a lock and
# first removes whatever a killed run left behind; netns_down removes everything.

GDC_MGMT=198.18.0
GDC_DATA=198.18.1
GDC_MGMT_CIDR=$GDC_MGMT.0/24
GDC_DATA_CIDR=$GDC_DATA.0/24
GDC_LOCK=/run/gdmpi-cluster-test.lock
GDC_HOSTS=""
# Run from the top of the tree, as every test is.
GDC_AGENT=$(pwd)/tests/cluster/netns-agent.sh

# gdc_host I: the (management) address of host I, 1-based; gdc_ns ADDR: its namespace.
gdc_host() { echo "$GDC_MGMT.$((10 + $1))"; }
gdc_ns() { echo "gdc-$1"; }

# netns_capable: can this machine make namespaces, veth pairs and bridges? (A CI
# container without CAP_NET_ADMIN cannot.) Prints the reason when it cannot.
netns_capable() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "needs root (ip netns add)"
        return 1
    fi
    if ! command -v ip >/dev/null 2>&1; then
        echo "no ip command (iproute2)"
        return 1
    fi
    if ! out=$(ip netns add gdc-probe 2>&1); then
        echo "ip netns add fails: $out"
        return 1
    fi
    ip netns del gdc-probe
    if ! out=$(ip link add gdcprobe type bridge 2>&1); then
        echo "ip link add type bridge fails: $out"
        return 1
    fi
    ip link del gdcprobe
    return 0
}

# netns_clean: removes every gdc-* namespace (and what runs in it), port, bridge and
# session directory.
netns_clean() {
    for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^gdc-/ {print $1}'); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    for l in $(ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' |
               grep -E '^gdc[md][0-9]+$'); do
        ip link del "$l" 2>/dev/null
    done
    ip link del gdcbr0 2>/dev/null
    ip link del gdcbr1 2>/dev/null
    rm -rf /tmp/gdc-*.session # the daemons' session directories (netns-agent.sh)
    return 0
}

# IPv6 stays off on everything made here, so that not even link-local autoconfiguration
# (router solicitations, MLD) leaves the 198.18 addresses.
IPV6_OFF='for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do [ -w $f ] && echo 1 >$f; done; true'
no_ipv6() {
    f=/proc/sys/net/ipv6/conf/$1/disable_ipv6
    if [ -w "$f" ]; then echo 1 >"$f"; fi
    return 0
}

# bridge_up NAME ADDR: a bridge with an address, in the root namespace.
bridge_up() {
    ip link add "$1" type bridge &&
        no_ipv6 "$1" &&
        ip addr add "$2/24" dev "$1" &&
        ip link set "$1" up
}

# link_host NS IFNAME PORT BRIDGE ADDR: a veth pair from the bridge into the namespace.
link_host() {
    ip link add "$3" type veth peer name "$2" netns "$1" &&
        no_ipv6 "$3" &&
        ip link set "$3" master "$4" up &&
        ip -n "$1" addr add "$5/24" dev "$2" &&
        ip -n "$1" link set "$2" up
}

# netns_up N: creates N hosts; sets GDC_HOSTS to their management addresses.
netns_up() {
    exec 9>"$GDC_LOCK"
    if command -v flock >/dev/null 2>&1 && ! flock -w 600 9; then
        echo "another cluster test holds $GDC_LOCK" >&2
        return 1
    fi
    netns_clean
    bridge_up gdcbr0 "$GDC_MGMT.1" || return 1
    bridge_up gdcbr1 "$GDC_DATA.1" || return 1
    GDC_HOSTS=""
    i=1
    while [ "$i" -le "$1" ]; do
        addr=$(gdc_host "$i")
        ns=$(gdc_ns "$addr")
        ip netns add "$ns" &&
            ip netns exec "$ns" sh -c "$IPV6_OFF" &&
            ip -n "$ns" link set lo up &&
            link_host "$ns" eth0 "gdcm$i" gdcbr0 "$addr" &&
            link_host "$ns" eth1 "gdcd$i" gdcbr1 "$GDC_DATA.$((10 + i))" || return 1
        GDC_HOSTS="$GDC_HOSTS $addr"
        i=$((i + 1))
    done
    # Each host reaches the head on both networks (where ping exists).
    if command -v ping >/dev/null 2>&1; then
        for a in $GDC_HOSTS; do
            ip netns exec "$(gdc_ns "$a")" ping -c 1 -W 5 "$GDC_MGMT.1" >/dev/null &&
                ip netns exec "$(gdc_ns "$a")" ping -c 1 -W 5 "$GDC_DATA.1" >/dev/null ||
                return 1
        done
    fi
    return 0
}

# netns_down: tears everything down and releases the lock.
netns_down() {
    netns_clean
    exec 9>&-
    return 0
}

# netns_cut I data|all: cuts host I off the data network only (its ranks' messages stop,
# its daemon still talks to mpirun), or off both (a dead host, a pulled cable).
netns_cut() {
    ip link set "gdcd$1" down
    if [ "$2" = all ]; then ip link set "gdcm$1" down; fi
}

# netns_leftovers: processes still running in the gdc-* namespaces (none after a run).
netns_leftovers() {
    for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^gdc-/ {print $1}'); do
        ip netns pids "$ns"
    done
}

# gdc_mpirun ARGS...: mpirun from the head node onto the namespace hosts, over TCP only,
# for at most GDC_TIMEOUT seconds (default 120; then status 124). The ssh launcher is
# replaced by netns-agent.sh, and mpirun starts every host's daemon itself (no tree
# spawn). The daemons use the management network, the ranks the data network. The ranks
# are not bound: every host's daemon sees the machine's cores and would bind its first rank
# to core 0, so all the hosts' ranks would share one core (a 2 ms MPI latency between two
# ranks that wait for each other's time slice, and the other core idle).
gdc_mpirun() {
    timeout -k 5 "${GDC_TIMEOUT:-120}" mpirun --mca plm_rsh_agent "$GDC_AGENT" \
        --bind-to none \
        --mca plm_rsh_no_tree_spawn 1 --mca oob_tcp_if_include "$GDC_MGMT_CIDR" \
        --mca btl tcp,self --mca btl_tcp_if_include "$GDC_DATA_CIDR" \
        -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "$@" 9>&-
}
