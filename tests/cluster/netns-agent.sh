#!/bin/sh
# Open MPI's "ssh" for the namespace hosts of tests/cluster (plm_rsh_agent):
#   netns-agent.sh HOST COMMAND...
# runs COMMAND in the network namespace of HOST, as ssh would on a real host: the
# words are joined and given to a shell. HOST is a namespace name or an address whose
# namespace is gdc-ADDRESS (see netns.sh).
set -eu
log=${GDC_AGENT_LOG:-/dev/null}
# Skip ssh-style options, should Open MPI pass any (-x, -o ..., -T).
while [ $# -gt 0 ]; do
    case $1 in
    -o | -l | -p) shift 2 ;;
    -*) shift ;;
    *) break ;;
    esac
done
host=$1
shift
ns=$host
if ! ip netns list | awk '{print $1}' | grep -qx "$ns"; then
    ns=gdc-$host
fi
# The namespace hosts share this machine's hostname and /tmp, so their daemons would share
# one Open MPI session directory (/tmp/ompi.HOSTNAME.UID) and race on it: about one launch
# in ten, a daemon exited at start-up (status 213) and mpirun waited for it until killed.
# Each host gets its own (netns.sh removes them).
export OMPI_MCA_orte_tmpdir_base="/tmp/$ns.session"
mkdir -p "$OMPI_MCA_orte_tmpdir_base"
echo "agent: $host -> $ns: $*" >>"$log"
exec ip netns exec "$ns" sh -c "$*"
