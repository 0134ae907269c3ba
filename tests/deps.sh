#!/bin/sh
# tests/deps.sh - install what upcased needs on Debian 12, as root.
#
#   sh tests/deps.sh build   compiler, autotools, libraries (Quick start)
#   sh tests/deps.sh test    and what the test suite runs: Check, python3,
#                            systemd-socket-activate, valgrind, socat,
#                            systemd-nspawn, the Debian packaging tools,
#                            and clang with libFuzzer
#
# Only missing packages are installed; apt-get update runs only then.
set -eu

build="build-essential autoconf automake pkg-config libsystemd-dev \
libconfig-dev libutf8proc-dev check"
test="$build python3 systemd valgrind socat iproute2 procps \
systemd-container debhelper lintian dpkg-dev man-db clang libclang-rt-14-dev"

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
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
