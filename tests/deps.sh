#!/bin/sh
# tests/deps.sh - install what upcased needs on Debian 12, as root.
#
#   sh tests/deps.sh build   compiler, autotools, libraries (Quick start)
#   sh tests/deps.sh test    and what the test suite runs: Check, python3,
#                            systemd-socket-activate, valgrind, socat,
#                            systemd-nspawn, the Debian packaging tools,
#                            clang with libFuzzer, and the load balancers
#                            tests/balancer runs (haproxy, nginx with its
#                            stream module)
#
# Only missing packages are installed; apt-get update runs only then.
# Nothing installed may start a service (a policy-rc.d says no during the
# install), and the test set leaves haproxy and nginx disabled: the
# system test boots this very / in a container, where they must not
# start (the balancer suite runs its own, in network namespaces).
set -eu

build="build-essential autoconf automake pkg-config libsystemd-dev \
libconfig-dev libutf8proc-dev check"
test="$build python3 systemd valgrind socat iproute2 procps \
systemd-container debhelper lintian dpkg-dev man-db clang libclang-rt-14-dev \
haproxy nginx libnginx-mod-stream"
# services the test set installs but must never leave enabled
test_services="haproxy.service nginx.service"

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

# haproxy and nginx enable themselves at install: not on a test machine.
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
