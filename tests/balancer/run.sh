#!/bin/sh
# run.sh - the load-balancer suite (tests/balancer/README.md).
#
# Builds a private network of network namespaces (root only), runs every
# tests/balancer/test_balancer_*.py inside the client namespace against
# $UPCASED_BIN, prints the TAP of each, then one table
# "scenario | figure | bound" made of the "# FIGURE ..." lines.  Exit
# status 1 if any test failed (or a file did not run to its end).
#
#   client ns  C     10.77.1.10 (A), .11 (B), .12 (C) --veth-- 10.77.1.1  balancer ns
#   balancer ns LB   haproxy and nginx; bridge 10.77.2.1/24
#   backend ns  B1..B3                  10.77.2.11 .. 10.77.2.13 on the bridge
#
# No default route anywhere and no link to the host's namespace: nothing
# leaves the machine.  Every namespace is named upb-<pid>-*, and all of
# them, the processes in them and the temporary directory go away at the
# end, on failure or interruption too (trap).
#
#   UPCASED_BIN=/path/to/build/src/upcased sh tests/balancer/run.sh

set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
UPCASED_BIN=${UPCASED_BIN:-$srcdir/build/src/upcased}
case $UPCASED_BIN in
/*) ;;
*) UPCASED_BIN=$(pwd)/$UPCASED_BIN ;;
esac
PYTHON3=${PYTHON3:-python3}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
NGINX=${NGINX:-/usr/sbin/nginx}
# shellcheck source-path=SCRIPTDIR/.. source=tap-files.sh
. "$here/../tap-files.sh"

echo "# upcased load-balancer suite: $UPCASED_BIN"
if [ ! -x "$UPCASED_BIN" ]; then
	echo "run.sh: UPCASED_BIN $UPCASED_BIN is not an executable" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP network namespaces need root"
	exit 0
fi
for p in "$HAPROXY" "$NGINX"; do
	if [ ! -x "$p" ]; then
		echo "run.sh: $p missing (sh tests/deps.sh test installs it)" >&2
		exit 2
	fi
done

tag=upb-$$
NS_C=$tag-cli
NS_LB=$tag-lb
NS_B="$tag-b1 $tag-b2 $tag-b3"
out=$(mktemp -d "${TMPDIR:-/tmp}/upcased-balancer.XXXXXX") || exit 2
chmod 755 "$out"
mkdir "$out/tmp"	# the tests' own temporary files (TMPDIR)

teardown() {
	for ns in $NS_C $NS_LB $NS_B; do
		[ -e "/run/netns/$ns" ] || continue
		# the processes this suite started in the namespace, by pid
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # a list of pids
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$out"
}
trap teardown EXIT
trap 'exit 130' INT TERM HUP

# namespaces left by a run that was killed (SIGKILL leaves no trap): their
# run.sh is gone
for ns in $(ip netns list 2>/dev/null | awk '/^upb-[0-9]+-/ { print $1 }')
do
	pid=${ns#upb-}
	pid=${pid%%-*}
	kill -0 "$pid" 2>/dev/null && continue
	echo "# removing namespace $ns, left by an earlier run"
	pids=$(ip netns pids "$ns" 2>/dev/null)
	# shellcheck disable=SC2086 # a list of pids
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	ip netns del "$ns" 2>/dev/null
done

run() { "$@" || { echo "run.sh: network set-up failed: $*" >&2; exit 2; }; }

# --- the network ------------------------------------------------------------
for ns in $NS_C $NS_LB $NS_B; do
	run ip netns add "$ns"
	run ip -n "$ns" link set lo up
done
# client <-> balancer
run ip -n "$NS_C" link add eth0 type veth peer name cli0 netns "$NS_LB"
run ip -n "$NS_C" addr add 10.77.1.10/24 dev eth0
run ip -n "$NS_C" addr add 10.77.1.11/24 dev eth0
run ip -n "$NS_C" addr add 10.77.1.12/24 dev eth0
run ip -n "$NS_C" link set eth0 up
run ip -n "$NS_LB" addr add 10.77.1.1/24 dev cli0
run ip -n "$NS_LB" link set cli0 up
# balancer bridge <-> backends
run ip -n "$NS_LB" link add br0 type bridge
run ip -n "$NS_LB" addr add 10.77.2.1/24 dev br0
run ip -n "$NS_LB" link set br0 up
i=0
for ns in $NS_B; do
	i=$((i + 1))
	run ip -n "$ns" link add eth0 type veth peer name b$i netns "$NS_LB"
	run ip -n "$ns" addr add 10.77.2.1$i/24 dev eth0
	run ip -n "$ns" link set eth0 up
	run ip -n "$NS_LB" link set b$i master br0
	run ip -n "$NS_LB" link set b$i up
done
# no IPv6 duplicate address detection delays, no router solicitations
for ns in $NS_C $NS_LB $NS_B; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	    >/dev/null 2>&1
done
# a bridge without STP forwards at once: no waiting (and no ping on a
# minimal system); the first test finds out if the network is wrong

# --- the tests --------------------------------------------------------------
UPCASED_SRCDIR=$srcdir
PYTHONPATH=$srcdir/tests/integration:$here${PYTHONPATH:+:$PYTHONPATH}
PYTHONDONTWRITEBYTECODE=1
BALANCER_NS_C=$NS_C BALANCER_NS_LB=$NS_LB BALANCER_NS_B=$NS_B
BALANCER_TMP=$out
export UPCASED_BIN UPCASED_SRCDIR PYTHONPATH PYTHONDONTWRITEBYTECODE \
    HAPROXY NGINX BALANCER_NS_C BALANCER_NS_LB BALANCER_NS_B BALANCER_TMP

# in the background, so that INT and TERM reach the trap (teardown kills
# what the file started in the namespaces)
TAP_FILES_BACKGROUND=1
tap_file_exec() { TMPDIR=$out/tmp ip netns exec "$NS_C" "$PYTHON3" "$1"; }
tap_files "$out" "$here"/test_balancer_*.py
tap_figures scenario 8
tap_summary
