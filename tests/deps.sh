#!/bin/sh
# tests/deps.sh - install what upcased needs on Debian 12, as root.
#
#   sh tests/deps.sh build   compiler, autotools, libraries (Quick start)
#   sh tests/deps.sh test    and what the test suite runs: Check, python3,
#                            systemd-socket-activate, valgrind, socat,
#                            systemd-nspawn, the Debian packaging tools,
#                            clang with libFuzzer, the load balancers
#                            tests/balancer runs (haproxy, nginx with its
#                            stream module), and Prometheus with its
#                            blackbox exporter (promtool checks the
#                            examples; the system test runs both), and
#                            liburing (bench/echo-ref-uring; without it
#                            configure leaves that one program out)
#
# Only missing packages are installed; apt-get update runs only then.
# Nothing installed may start a service (a policy-rc.d says no during the
# install), and the test set leaves haproxy, nginx and Prometheus
# disabled: the system test boots this very / in a container, where they
# must not start (the balancer suite runs its own, in network namespaces;
# the system test starts Prometheus and the blackbox exporter itself,
# with upcased's example configuration).
set -eu

build="build-essential autoconf automake pkg-config libsystemd-dev \
libconfig-dev libutf8proc-dev libmicrohttpd-dev check"
test="$build python3 systemd valgrind socat iproute2 procps \
systemd-container debhelper lintian dpkg-dev man-db shellcheck clang libclang-rt-14-dev \
haproxy nginx libnginx-mod-stream prometheus prometheus-blackbox-exporter \
liburing-dev"
# services the test set installs but must never leave enabled (the node
# exporter comes only with prometheus's Recommends, which are not
# installed here, but may be on the machine)
test_services="haproxy.service nginx.service prometheus.service \
prometheus-blackbox-exporter.service prometheus-node-exporter.service"

case "${1:-build}" in
build)	want=$build ;;
test)	want=$test ;;
*)	echo "usage: sh tests/deps.sh build|test" >&2; exit 64 ;;
esac

missing=
for p in $want; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "tests/deps.sh: missing:$missing (run as root)" >&2
		exit 1
	fi
	echo "tests/deps.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# invoke-rc.d asks policy-rc.d: 101 = "action forbidden", so no
	# package starts its service now
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# These enable themselves at install: not on a test machine.
if [ "$want" = "$test" ]; then
	wants=/etc/systemd/system/multi-user.target.wants
	for u in $test_services; do
		[ -e "$wants/$u" ] || [ -L "$wants/$u" ] || continue
		if [ "$(id -u)" != 0 ]; then
			echo "tests/deps.sh: $u is enabled (run as root to" \
			    "disable it)" >&2
			exit 1
		fi
		echo "tests/deps.sh: disabling $u"
		# works offline (no running systemd needed); else the link
		systemctl disable --no-reload "$u" >/dev/null 2>&1 ||
		    rm -f "$wants/$u"
		rm -f "$wants/$u"
	done
fi
