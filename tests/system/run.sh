#!/bin/bash
# tests/system/run.sh - the system test of the upcased Debian package.
#
# Boots a real systemd as PID 1 in a container (systemd-nspawn on an
# overlay of this host's root, private network), installs the .deb in it
# and plays the admin: service, monitoring (Debian's blackbox exporter
# and Prometheus server with the package's example configuration), reload
# (good and bad), crash and watchdog restarts, socket activation, a
# restart under load, faults under load (reloads that change the worker
# pool, with and without socket activation; kill -9 with socket
# activation), the upgrade from version N to N+1 under load (the running
# daemon hands everything over to the new binary: with the service unit
# and with the socket unit) and its fallbacks, stop, purge.  Prints TAP,
# one line per step with its time, and a summary; the measurements of a
# step follow its ok / not ok line as "# figure: " lines.
#
# Usage: tests/system/run.sh [PATH/upcased_N_ARCH.deb PATH/upcased_N+1_ARCH.deb]
#   Without arguments, builds both packages first from this source tree
#   (copies of it, in a temporary directory; DEB_BUILD_OPTIONS=nocheck,
#   since make check is run on its own): version N as it is, and N+1,
#   the same source with the version bumped (AC_INIT and a changelog
#   entry: N+next1), the two builds side by side.
#
# Needs root, systemd-nspawn (package systemd-container, installed if
# missing), python3, prometheus and prometheus-blackbox-exporter
# (tests/deps.sh test), and for the build dpkg-dev and the Build-Depends.
# Unattended: no standard input, every wait bounded, every process it
# starts ended by PID on every exit path, mounts undone.  A few minutes.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

NSTEPS=17
WORK=
DEB=${1:-}
DEB_NEXT=${2:-}
CONF=/etc/upcased/upcased.conf
MSGID_STARTED=00bf4bfd2f664ec49ebcea48fe9d33ec
MSGID_RELOADING=a7d3039c582e45f097ba0d1218235b10
MSGID_RELOADED=3218dd31d2df4d5892b11582e90cd713
MSGID_RELOAD_REFUSED=86deba2baef34a4cbd6c7eda577a3c40
MSGID_STOPPING=d9665947ceac4fd688cbfca32c361dee
MSGID_STOPPED=323e52fbd34c4cb9b84d5f9c8ff928cb
MSGID_LISTENING=44f3aa6572b74f109a4e75fb66d39d40
MSGID_HANDED_OVER=877b925e3ffe45389065e51de492d264
MSGID_TOOK_OVER=00a445516b2f4a6cb64b40a0f0d255b8
MSGID_HANDOVER_CONFIG=b3a56a55af024471866d2ef8a7bc55b4
MSGID_HANDOVER_DIED=382117047c794dbb83aa2001a4b54709
HANDOVER=/usr/libexec/upcased/upcased-handover
EXAMPLES=/usr/share/doc/upcased/examples

cleanup() {
	ut_teardown
	[ -z "$WORK" ] || rm -rf "$WORK"
}
# fd 3: the real standard output, for the trap (a check may be running
# with its output going to the step's log).
exec 3>&1
trap cleanup EXIT
trap 'say "Bail out! interrupted" >&3; exit 130' INT TERM HUP

bail() {
	say "Bail out! $*"
	exit 1
}

# --- preparation -----------------------------------------------------------

[ "$(id -u)" -eq 0 ] || bail "must run as root (mounts, nspawn)"

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "$@" </dev/null >/dev/null 2>&1 ||
	{ apt-get update -q </dev/null >/dev/null 2>&1 &&
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "$@" </dev/null >/dev/null 2>&1; }
}

command -v systemd-nspawn >/dev/null || apt_install systemd-container ||
    bail "systemd-nspawn is missing and could not be installed"
command -v python3 >/dev/null || bail "python3 is missing"
for b in prometheus promtool prometheus-blackbox-exporter; do
	command -v $b >/dev/null ||
	    bail "$b is missing: sh tests/deps.sh test installs it"
done

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/upcased-systest.XXXXXX") ||
    bail "mktemp"
mkdir "$WORK/ct"

# copy_tree DIR: the working tree as it is, without build products.
copy_tree() {
	mkdir -p "$1"
	if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$SRC" && git ls-files -co --exclude-standard -z |
		    grep -z -v -e '^build/' -e '__pycache__' |
		    tar --null -T - -cf -) | tar -xf - -C "$1"
	else
		cp -a "$SRC/." "$1/"
	fi
}

# bump_tree DIR: the next version of the tree in DIR: AC_INIT's version
# and the changelog's, each with "+next1" appended.
bump_tree() {
	local d=$1 v up who
	v=$(cd "$d" && dpkg-parsechangelog -S Version) || return 1
	who=$(cd "$d" && dpkg-parsechangelog -S Maintainer) || return 1
	up=$(sed -n 's/^AC_INIT(\[upcased\], \[\([^]]*\)\]).*/\1/p' \
	    "$d/configure.ac")
	[ -n "$up" ] || { say "no AC_INIT version in configure.ac"; return 1; }
	sed -i "s/^AC_INIT(\[upcased\], \[$up\])/AC_INIT([upcased], [$up+next1])/" \
	    "$d/configure.ac" || return 1
	{
		printf 'upcased (%s+next1) unstable; urgency=medium\n\n' "$v"
		printf '  * The same source, its version bumped by the system test.\n\n'
		printf ' -- %s  %s\n\n' "$who" "$(date -R)"
		cat "$d/debian/changelog"
	} >"$d/debian/changelog.next" &&
	    mv "$d/debian/changelog.next" "$d/debian/changelog"
}

# build_one DIR LOG: dpkg-buildpackage in DIR; the .deb lands next to it.
build_one() {
	(cd "$1" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
	    dpkg-buildpackage -us -uc -b) >"$2" 2>&1 || {
		tail -n 40 "$2" | diag
		return 1
	}
}

# Version N and N+1, built side by side (one job each).
build_debs() {
	local t0 r1 r2 p1 p2
	t0=$(now)
	copy_tree "$WORK/build/upcased" && copy_tree "$WORK/build-next/upcased" &&
	    bump_tree "$WORK/build-next/upcased" || return 1
	if ! (cd "$WORK/build/upcased" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
		apt_install build-essential debhelper dh-autoreconf pkg-config \
		    libsystemd-dev libconfig-dev libutf8proc-dev libmicrohttpd-dev \
		    check python3 systemd \
		    dpkg-dev fakeroot || return 1
	fi
	build_one "$WORK/build/upcased" "$WORK/build.log" &
	p1=$!
	build_one "$WORK/build-next/upcased" "$WORK/build-next.log" &
	p2=$!
	wait "$p1"
	r1=$?
	wait "$p2"
	r2=$?
	[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] || return 1
	DEB=$(ls "$WORK"/build/upcased_*.deb 2>/dev/null | head -n 1)
	DEB_NEXT=$(ls "$WORK"/build-next/upcased_*.deb 2>/dev/null | head -n 1)
	say "# built $(basename "$DEB") and $(basename "$DEB_NEXT") in $(elapsed "$t0") s"
}

if [ -z "$DEB" ]; then
	build_debs || bail "could not build the packages"
fi
[ -f "$DEB" ] || bail "no such package: $DEB"
[ -n "$DEB_NEXT" ] && [ -f "$DEB_NEXT" ] ||
    bail "no package N+1: give both packages, or none"
# The versions: dpkg's, and what each binary says (upcased --version).
deb_says() {
	local d=$WORK/x.$$ v
	rm -rf "$d" && mkdir "$d" && dpkg-deb -x "$1" "$d" &&
	    v=$("$d/usr/sbin/upcased" --version) && rm -rf "$d" &&
	    printf '%s\n' "${v#upcased }"
}
V_N=$(dpkg-deb -f "$DEB" Version)
V_NEXT=$(dpkg-deb -f "$DEB_NEXT" Version)
UP_N=$(deb_says "$DEB") || bail "cannot run upcased --version of $DEB"
UP_NEXT=$(deb_says "$DEB_NEXT") || bail "cannot run upcased --version of $DEB_NEXT"
dpkg --compare-versions "$V_NEXT" gt "$V_N" && [ "$UP_NEXT" != "$UP_N" ] ||
    bail "N+1 ($V_NEXT, upcased $UP_NEXT) is not after N ($V_N, upcased $UP_N)"
say "# version N: $V_N (upcased $UP_N), N+1: $V_NEXT (upcased $UP_NEXT)"
cp "$DEB" "$WORK/ct/upcased.deb"
cp "$DEB_NEXT" "$WORK/ct/upcased-next.deb"
cp "$HERE/client.py" "$HERE/unitwatch.py" "$WORK/ct/"

T_ALL=$(now)
ut_boot "$WORK/ct" >"$WORK/boot.out" 2>&1 || {
	diag <"$WORK/boot.out"
	bail "the container did not boot"
}
say "# container booted: $(tail -n 1 "$WORK/boot.out") in $(elapsed "$T_ALL") s"
if ct dpkg-query -W -f='${Status}' upcased 2>/dev/null | grep -q installed; then
	ct dpkg --purge upcased >/dev/null 2>&1 ||
	    bail "upcased is installed on the host and cannot be purged"
fi

# --- the steps -------------------------------------------------------------

mainpid() {
	prop upcased.service MainPID
}

# The service answers TCP and UDP on port $1, IPv4 and IPv6.
answers() {
	client tcp 127.0.0.1 "$1" && client tcp ::1 "$1" &&
	    client udp 127.0.0.1 "$1" && client udp ::1 "$1"
}

# systemctl status upcased matches the regular expression $1 (evaluated
# afresh at each call, for wait_for).
status_matches() {
	matches "$(ct systemctl status upcased.service --no-pager -n 0 2>&1)" "$1"
}

# The journal of upcased.service after cursor $1 matches $2; $3...: more
# FIELD=VALUE filters (see jfilter.py).
journal_matches() {
	local c=$1 re=$2
	shift 2
	matches "$(journal_since "$c" -u upcased.service "$@")" "$re"
}

running() {
	is "$(prop upcased.service ActiveState)/$(prop upcased.service SubState)" \
	    active/running
}

# The journal entry of upcased with MESSAGE_ID $2 after cursor $1, as
# JSON lines, must carry the fields "NAME=VALUE"... in $3...
entry_has() {
	local c=$1 id=$2
	shift 2
	journal_since "$c" -u upcased.service MESSAGE_ID="$id" -o json |
	    entry_check "$@"
}

# The same for the entry of process $2 (whichever unit the journal
# says: a process that exits right after logging may have none).
pid_entry_has() {
	local c=$1 pid=$2 id=$3
	shift 3
	journal_since "$c" _PID="$pid" MESSAGE_ID="$id" -o json |
	    entry_check "$@"
}

# entry_check "NAME=VALUE"...: the last journal entry of the JSON lines
# on standard input carries these fields (VALUE "*": any value).
entry_check() {
	python3 -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[1:])
entries = [json.loads(l) for l in sys.stdin if l.strip()]
if not entries:
    sys.exit("no entry with that MESSAGE_ID")
e = entries[-1]
bad = {k: e.get(k) for k, v in want.items() if v != "*" and e.get(k) != v or k not in e}
if bad:
    sys.exit("fields %r, expected %r; entry: %r" % (bad, want, e))
print("entry has", " ".join("%s=%s" % (k, e[k]) for k in want))
' "$@"
}

step1() {
	check "apt-get install ./upcased.deb" \
	    ct_t 120 env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends /var/tmp/ut/upcased.deb || return 1
	check "dpkg says installed" \
	    matches "$(ct dpkg-query -W -f='${Status}' upcased)" \
	    'install ok installed' || return 1
	check "the configuration file is a conffile" \
	    matches "$(ct dpkg-query -W -f='${Conffiles}' upcased)" \
	    "^ $CONF [0-9a-f]{32}\$" || return 1
	check "the dpkg trigger registered the journal catalog" \
	    matches "$(ct journalctl --list-catalog)" \
	    "^$MSGID_STARTED upcased: " || return 1
	check "man pages are installed" \
	    ct test -f /usr/share/man/man8/upcased.8.gz -a \
	    -f /usr/share/man/man5/upcased.conf.5.gz || return 1
	check "the hand-over helper is installed: $HANDOVER" ct test -x "$HANDOVER" ||
	    return 1
	check "version N: dpkg says $V_N, upcased --version says $UP_N" \
	    is "$(ct dpkg-query -W -f='${Version}' upcased)/$(ct upcased --version)" \
	    "$V_N/upcased $UP_N"
}

step2() {
	# shellcheck disable=SC2034 # u: set and read in an eval
	local c pid status u
	c=$1	# cursor from before the installation
	check "upcased.service enabled" \
	    is "$(ct systemctl is-enabled upcased.service)" enabled || return 1
	check "upcased.service active" wait_for 10 running || return 1
	check "upcased.socket not enabled, not active" \
	    is "$(ct systemctl is-enabled upcased.socket)/$(prop upcased.socket ActiveState)" \
	    disabled/inactive || return 1
	check "TCP and UDP echo on 8008, IPv4 and IPv6" \
	    wait_for 10 answers 8008 || return 1
	check "journal: started MESSAGE_ID with UPCASED_* fields" \
	    entry_has "$c" "$MSGID_STARTED" SYSLOG_IDENTIFIER=upcased \
	    UPCASED_CONFIG=$CONF UPCASED_SOCKET_ACTIVATION=no \
	    UPCASED_TCP_PORTS=8008 UPCASED_UDP_PORTS=8008 \
	    'UPCASED_WORKERS=*' || return 1
	check "journal: a listening MESSAGE_ID per socket (TCP, UDP, metrics)" \
	    is "$(count_msgid "$c" "$MSGID_LISTENING")" 3 || return 1
	check "journal: the metrics endpoint on 127.0.0.1:9808" \
	    is "$(journal_since "$c" -u upcased.service \
	    MESSAGE_ID="$MSGID_LISTENING" \
	    'UPCASED_LISTEN=metrics 127.0.0.1:9808' | grep -c .)" 1 || return 1
	check "journalctl -x explains the start from the catalog" \
	    matches "$(ct journalctl -q --no-pager -x -u upcased.service)" \
	    'upcased, the uppercase echo service, has started' || return 1
	# The sandbox, seen from outside: no root, no capability, seccomp.
	pid=$(mainpid)
	status=$(ct cat "/proc/$pid/status")
	check "runs as a dynamic user (UID 61184..65519)" \
	    eval 'u=$(ct ps -o uid= -p "$pid" | tr -d " "); [ "$u" -ge 61184 ] && [ "$u" -le 65519 ]' ||
	    return 1
	note "user: $(ct ps -o user=,uid= -p "$pid")"
	check "not root, no capabilities, no new privileges, seccomp" \
	    matches "$(printf '%s\n' "$status" | grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' | tr -s '\t\n' '  ')" \
	    '^Uid: [1-9][0-9]* .*CapEff: 0{16} CapBnd: 0{16} NoNewPrivs: 1 Seccomp: 2 $' ||
	    return 1
	check "its root file system is read-only (ProtectSystem=strict)" \
	    matches "$(ct nsenter -t "$pid" -m findmnt -n -o OPTIONS /)" '^ro,'
}

# --- monitoring (steps 3 and 4) ----------------------------------------------
#
# Debian's own units of the blackbox exporter and of Prometheus, each
# given the package's example configuration (doc/examples/, installed in
# $EXAMPLES) by a drop-in in /run, and stopped, drop-in removed, at the
# end of the step whatever happened.  Both listen on loopback only.

BB_DROPIN=/run/systemd/system/prometheus-blackbox-exporter.service.d
PROM_DROPIN=/run/systemd/system/prometheus.service.d
PROM_DIR=/run/upcased-systest-prometheus

# unit_journal UNIT: its last lines into the step's log (on failure).
unit_journal() {
	ct journalctl -q --no-pager -n 15 -u "$1" >>"$UT_STEPLOG" 2>&1
}

# probe TARGET [METRIC]: the exporter's probe_success (or METRIC) for
# TARGET with the module of the shipped blackbox.yml.
probe() {
	client get 127.0.0.1 9115 "/probe?module=upcase_echo&target=$1" |
	    sed -n "s/^${2:-probe_success} //p"
}

step_blackbox() {
	local rc
	step_blackbox_body
	rc=$?
	[ "$rc" -eq 0 ] || unit_journal prometheus-blackbox-exporter.service
	check "stop the exporter, remove the drop-in" \
	    ct sh -c "systemctl stop prometheus-blackbox-exporter.service; rm -rf $BB_DROPIN && systemctl daemon-reload" ||
	    return 1
	return "$rc"
}

step_blackbox_body() {
	local d
	check "the package installs blackbox.yml in $EXAMPLES" \
	    ct test -f $EXAMPLES/blackbox.yml || return 1
	check "drop-in: the exporter with it, on 127.0.0.1:9115; started" \
	    ct sh -c "mkdir -p $BB_DROPIN && printf '[Service]\nExecStart=\nExecStart=/usr/bin/prometheus-blackbox-exporter --config.file=$EXAMPLES/blackbox.yml --web.listen-address=127.0.0.1:9115\n' >$BB_DROPIN/50-systest.conf && systemctl daemon-reload && systemctl restart prometheus-blackbox-exporter.service" ||
	    return 1
	check "it answers HTTP on 9115" \
	    wait_for 10 client get 127.0.0.1 9115 /metrics || return 1
	check "probe of 127.0.0.1:8008 (send a line, expect it uppercased): probe_success 1" \
	    is "$(probe 127.0.0.1:8008)" 1 || return 1
	d=$(probe 127.0.0.1:8008 probe_duration_seconds)
	note "probe_duration_seconds of 127.0.0.1:8008: $d"
	check "probe of [::1]:8008: probe_success 1" \
	    is "$(probe '%5B::1%5D:8008')" 1 || return 1
	check "nothing listens on 8010" client refused 127.0.0.1 8010 ||
	    return 1
	check "probe of 127.0.0.1:8010: probe_success 0" \
	    is "$(probe 127.0.0.1:8010)" 0 || return 1
	check "probe of a port that answers but not in upper case (the exporter's own HTTP): probe_success 0" \
	    is "$(probe 127.0.0.1:9115)" 0 || return 1
	check "failed on the expected line (probe_failed_due_to_regex 1)" \
	    is "$(probe 127.0.0.1:9115 probe_failed_due_to_regex)" 1
}

# promql QUERY: the values of an instant query, one a line.
promql() {
	client query 127.0.0.1 9090 "$1"
}

promql_is() {
	is "$(promql "$1")" "$2"
}

# scraped METRIC: its value in upcased's own /metrics (no labels).
scraped() {
	client get 127.0.0.1 9808 /metrics | sed -n "s/^$1 //p"
}

step_prometheus() {
	local rc
	step_prometheus_body
	rc=$?
	[ "$rc" -eq 0 ] || unit_journal prometheus.service
	check "stop Prometheus, remove the drop-in and its configuration" \
	    ct sh -c "systemctl stop prometheus.service; rm -rf $PROM_DROPIN $PROM_DIR && systemctl daemon-reload" ||
	    return 1
	return "$rc"
}

step_prometheus_body() {
	# shellcheck disable=SC2034 # v0: set in an eval
	local v0 n=5 m=upcased_connections_accepted_total rules
	check "the shipped prometheus.yml and rules, scrape and evaluation every 1 s" \
	    ct sh -c "mkdir -p $PROM_DIR && cp $EXAMPLES/prometheus.yml $EXAMPLES/upcased.rules.yml $PROM_DIR/ && sed -i 's/^\(  [a-z]*_interval:\) 15s\$/\\1 1s/' $PROM_DIR/prometheus.yml" ||
	    return 1
	check "both intervals now say 1s" \
	    matches "$(ct grep -c '^  [a-z]*_interval: 1s$' $PROM_DIR/prometheus.yml)" '^2$' ||
	    return 1
	check "promtool check config" \
	    ct promtool check config $PROM_DIR/prometheus.yml || return 1
	check "drop-in: Prometheus with it, its storage in its private /tmp, on 127.0.0.1:9090; started" \
	    ct sh -c "mkdir -p $PROM_DROPIN && printf '[Service]\nExecStart=\nExecStart=/usr/bin/prometheus --config.file=$PROM_DIR/prometheus.yml --storage.tsdb.path=/tmp/prometheus --web.listen-address=127.0.0.1:9090\n' >$PROM_DROPIN/50-systest.conf && systemctl daemon-reload && systemctl restart prometheus.service" ||
	    return 1
	check "Prometheus is ready" \
	    wait_for 30 client get 127.0.0.1 9090 /-/ready || return 1
	rules=$(client get 127.0.0.1 9090 /api/v1/rules |
	    grep -o '"name":"Upcased[A-Za-z]*"' | cut -d'"' -f4 | sort | tr '\n' ' ')
	check "it loaded the four alerting rules" \
	    is "$rules" "UpcasedDown UpcasedEchoFailing UpcasedRefusingConnections UpcasedReloadRefused " ||
	    return 1
	check "it scrapes upcased: up{job=\"upcased\"} is 1" \
	    wait_for 15 promql_is 'up{job="upcased"}' 1 || return 1
	# Nothing else connects to upcased meanwhile (the exporter of the
	# previous step is stopped).
	check "it has a value of $m" \
	    wait_for 10 eval 'v0=$(promql "$m"); matches "$v0" "^[0-9]+\$"' ||
	    return 1
	check "the same as upcased's own /metrics says" \
	    is "$(scraped "$m")" "$v0" || return 1
	note "$m before: $v0"
	check "$n TCP connections to 8008, each one line" \
	    client tcp 127.0.0.1 8008 $n || return 1
	check "/api/v1/query: $m went up by $n" \
	    wait_for 10 eval 'promql_is "$m" $((v0 + n))' || return 1
	sleep 2
	check "and not more: two scrapes later, the same" \
	    promql_is "$m" $((v0 + n)) || return 1
	check "as upcased's own /metrics says" \
	    is "$(scraped "$m")" $((v0 + n))
}

step3() {
	local c hold=/var/tmp/ut/hold
	ct rm -rf "$hold"
	ct mkdir -p "$hold"
	ct cp "$CONF" /var/tmp/ut/upcased.conf.orig
	# A client connected before the reload, to be served after it.
	ct_bg 90 python3 /var/tmp/ut/client.py hold 127.0.0.1 8008 "$hold" \
	    >>"$UT_STEPLOG" 2>&1
	check "a client is connected to 8008" \
	    wait_for 10 ct test -e "$hold/ready" || return 1
	check "edit the port: 8008 -> 8009" \
	    ct sed -i 's/ports = \[ 8008 \];/ports = [ 8009 ];/' "$CONF" ||
	    return 1
	check "the file now says 8009" \
	    matches "$(ct grep -c 'ports = \[ 8009 \]' "$CONF")" '^2$' ||
	    return 1
	c=$(cursor)
	check "systemctl reload upcased" ct systemctl reload upcased ||
	    return 1
	check "journal: reloaded MESSAGE_ID" \
	    wait_for 10 entry_has "$c" "$MSGID_RELOADED" \
	    UPCASED_CONFIG=$CONF || return 1
	check "the new port 8009 answers TCP and UDP" \
	    wait_for 10 answers 8009 || return 1
	check "the old port 8008 is closed" \
	    wait_for 10 client refused 127.0.0.1 8008 || return 1
	ct touch "$hold/go"
	check "the connection made before the reload is still served" \
	    wait_for 15 ct test -e "$hold/result" || return 1
	check "back to active/running" wait_for 10 running || return 1
	# STATUS= is sent every 5 s and after each reload.
	check "systemctl status shows the STATUS= figures of the traffic" \
	    wait_for 12 status_matches \
	    'Status: "[0-9]+ connections open, [1-9][0-9]* served; [1-9][0-9]* bytes in, [1-9][0-9]* out; [1-9][0-9]* datagrams' ||
	    return 1
	note "$(ct systemctl status upcased.service --no-pager -n 0 | grep -o 'Status: .*')"
}

# The file is restored and reloaded whatever happened, so that one
# failure does not fail every later step.
step4() {
	local rc
	step4_body
	rc=$?
	check "restore the file and reload" \
	    ct sh -c "cp /var/tmp/ut/upcased.conf.orig $CONF && systemctl reload upcased" ||
	    return 1
	check "8008 answers again" wait_for 10 answers 8008 || return 1
	return "$rc"
}

step4_body() {
	local c c2 line out rc pid
	# Broken file: a new port (8010) and, further down, a bad value.
	ct sed -i -e 's/ports = \[ 8009 \];/ports = [ 8010 ];/' \
	    -e 's/idle_timeout = 300;/idle_timeout = -5;/' "$CONF"
	line=$(ct grep -n 'idle_timeout = -5;' "$CONF" | cut -d: -f1)
	check "the broken line is line $line" matches "$line" '^[0-9]+$' ||
	    return 1
	c=$(cursor)
	pid=$(mainpid)
	out=$(ct systemctl reload upcased 2>&1)
	rc=$?
	say "systemctl reload: status $rc: $out" >>"$UT_STEPLOG"
	check "systemctl reload fails" isnt "$rc" 0 || return 1
	note "systemctl reload: exit $rc: $(printf '%s' "$out" | head -n 1)"
	note "$(ct systemctl status upcased --no-pager -n 20 2>&1 | grep -o "$CONF:$line: .*" | head -n 1)"
	check "systemctl status shows the error with file and line" \
	    matches "$(ct systemctl status upcased --no-pager -n 20 2>&1)" \
	    "$CONF:$line: limits.idle_timeout: -5 is out of range" || return 1
	check "systemctl is-active: active" \
	    is "$(ct systemctl is-active upcased)" active || return 1
	check "still the same process" is "$(mainpid)" "$pid" || return 1
	check "the daemon was not even signalled (no reloading MESSAGE_ID)" \
	    is "$(count_msgid "$c" "$MSGID_RELOADING")" 0 || return 1
	check "the old configuration serves: 8009 answers" answers 8009 ||
	    return 1
	check "and 8010 is not bound" client refused 127.0.0.1 8010 ||
	    return 1
	# A bare SIGHUP with the broken file.
	c2=$(cursor)
	check "kill -HUP the main PID" ct kill -HUP "$pid" || return 1
	check "journal: reload refused MESSAGE_ID naming file and line" \
	    wait_for 10 journal_matches "$c2" "reload refused.*$CONF:$line:" \
	    MESSAGE_ID=$MSGID_RELOAD_REFUSED || return 1
	check "READY again: active/running, not reloading" \
	    wait_for 10 running || return 1
	check "systemctl is-active: active" \
	    is "$(ct systemctl is-active upcased)" active || return 1
	check "still serving the old configuration: 8009 answers" \
	    answers 8009 || return 1
	check "and 8010 is still not bound" client refused 127.0.0.1 8010
}

step5() {
	local pid n
	pid=$(mainpid)
	n=$(prop upcased.service NRestarts)
	check "kill -9 $pid" ct kill -KILL "$pid" || return 1
	check "systemd restarted it (new main PID)" \
	    wait_for 20 eval '[ "$(mainpid)" != "$pid" ] && [ "$(mainpid)" != 0 ] && running' ||
	    return 1
	check "NRestarts went up by one" \
	    is "$(prop upcased.service NRestarts)" "$((n + 1))" || return 1
	check "8008 answers" wait_for 10 answers 8008
}

WD_DROPIN=/run/systemd/system/upcased.service.d

# The drop-in goes whatever happened.
step6() {
	local rc
	step6_body
	rc=$?
	check "remove the drop-in, restart" ct sh -c "rm -rf $WD_DROPIN && systemctl daemon-reload && systemctl restart upcased" ||
	    return 1
	check "active" wait_for 10 running || return 1
	return "$rc"
}

step6_body() {
	local pid c d=$WD_DROPIN
	check "drop-in WatchdogSec=3s" ct sh -c "mkdir -p $d && printf '[Service]\nWatchdogSec=3s\nTimeoutAbortSec=10s\n' >$d/50-systest-watchdog.conf && systemctl daemon-reload && systemctl restart upcased" ||
	    return 1
	check "WatchdogUSec=3s" prop_is upcased.service WatchdogUSec 3s ||
	    return 1
	check "active" wait_for 10 running || return 1
	check "it feeds the watchdog: still the same process after 7 s" \
	    eval 'pid=$(mainpid); sleep 7; [ "$(mainpid)" = "$pid" ] && running' ||
	    return 1
	c=$(cursor)
	check "kill -STOP $pid" ct kill -STOP "$pid" || return 1
	check "the watchdog fired and systemd restarted it" \
	    wait_for 30 eval '[ "$(mainpid)" != "$pid" ] && [ "$(mainpid)" != 0 ] && running' ||
	    return 1
	check "journal: watchdog timeout" \
	    journal_matches "$c" 'Watchdog timeout' || return 1
	check "8008 answers" wait_for 10 answers 8008
}

# --- faults under load (steps 7, 9 and 10) ----------------------------------
#
# client.py steady: long-lived connections exchanging a line every 10 ms,
# a new connection every 10 ms (open loop: while nobody accepts, they pile
# up in the backlog), a datagram every 10 ms; every reply checked byte for
# byte.  It prints one line of NAME=COUNT figures (see do_steady in
# client.py), kept in LOAD; fig NAME reads one.
LOAD=

# steady_load SECS HELD CMD...: the steady load on 127.0.0.1:8008 for SECS
# seconds with HELD long-lived connections; CMD runs after 1.5 s, and
# must be done 0.5 s before the load ends.  Fails if CMD or the client
# failed; the figures are for the caller to judge.
steady_load() {
	local secs=$1 nheld=$2 out=/var/tmp/ut/steady.out rc crc bg t0 t1
	shift 2
	LOAD=
	ct rm -f "$out"
	t0=$(now)
	ct_bg $((secs + 30)) sh -c \
	    "python3 /var/tmp/ut/client.py steady 127.0.0.1 8008 $secs $nheld udp >$out 2>&1"
	bg=$BGPID
	sleep 1.5
	"$@"
	rc=$?
	t1=$(elapsed "$t0")
	wait "$bg"
	crc=$?
	UT_BG=${UT_BG/ $bg/}
	ct cat "$out"
	LOAD=$(ct head -n 1 "$out")
	note "$1 done $t1 s after the load started (it lasts $secs s)"
	[ "$rc" -eq 0 ] && [ "$crc" -eq 0 ] &&
	    matches "$LOAD" ' max_gap_ms=[0-9]+ ' &&
	    awk -v t="$t1" -v s="$secs" 'BEGIN { exit !(t <= s - 0.5) }'
}

fig() {
	printf '%s\n' "$LOAD" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# fig_sum NAME...: the sum of figures.
fig_sum() {
	local n t=0 v
	for n in "$@"; do
		v=$(fig "$n")
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# fig_at_most MAX NAME...: the sum of these figures is at most MAX.
fig_at_most() {
	local max=$1 n t=0 v
	shift
	for n in "$@"; do
		v=$(fig "$n")
		case $v in
		''|*[!0-9]*) say "no figure $n in: $LOAD"; return 1 ;;
		esac
		say "$n=$v"
		t=$((t + v))
	done
	[ "$t" -le "$max" ] || { say "total $t, expected at most $max"; return 1; }
}

# The kinds of failure of a connection once established (broken in
# flight), and before (not accepted).
BROKEN="reset closed timeout"
NOT_ACCEPTED="refused conn_timeout"

# fig_none PREFIX KIND...: no PREFIX_KIND figure above 0.
fig_none() {
	local p=$1 k names=
	shift
	for k in "$@"; do
		names="$names ${p}_$k"
	done
	# shellcheck disable=SC2086 # a list of names
	fig_at_most 0 $names
}

# Reloads in a row, each after the previous one finished, 0.2 s apart.
# Each sets the number of workers to the next of RELOAD_WORKERS (0: one
# per CPU, the shipped value, last): workers are started and retired,
# handing their connections over, under load.
RELOAD_WORKERS="4 1 3 0 1 4 2 0 3 0"

reloads() {
	local w
	for w in $RELOAD_WORKERS; do
		ct sed -i "s/^workers = .*;/workers = $w;/" "$CONF" &&
		    ct systemctl reload upcased.service || return 1
		sleep 0.2
	done
}

# reload_under_load WHAT: the reloads under 20 long-lived connections and
# the rest of the steady load; not one connection may break.
reload_under_load() {
	local what=$1 c pid n rc=0 got auto want
	n=$(echo $RELOAD_WORKERS | wc -w)
	check "the file says workers = 0" \
	    matches "$(ct grep -c '^workers = 0;' "$CONF")" '^1$' || return 1
	ct cp "$CONF" /var/tmp/ut/upcased.conf.load
	pid=$(mainpid)
	c=$(cursor)
	check "$n reloads (workers: $RELOAD_WORKERS) under 20 long-lived connections, new connections and datagrams" \
	    steady_load 10 20 reloads || rc=1
	[ -n "$LOAD" ] && figure "$n reloads under load ($what), workers $RELOAD_WORKERS:" \
	    "$(fig held) long-lived connections: $(fig held_ok) lines answered," \
	    "$(fig_sum held_reset held_closed held_timeout held_refused held_conn_timeout) broken," \
	    "$(fig held_wrong) wrong (longest exchange $(fig held_max_ms) ms);" \
	    "new connections: $(fig new_ok) answered, $(fig new_refused) refused," \
	    "$(fig_sum new_reset new_closed new_timeout new_conn_timeout) broken," \
	    "$(fig new_wrong) wrong (longest $(fig new_max_ms) ms);" \
	    "longest gap between answers $(fig max_gap_ms) ms;" \
	    "UDP: $(fig udp_answered) of $(fig udp_sent) answered, $(fig udp_wrong) wrong"
	check "restore the file and reload" \
	    ct sh -c "cp /var/tmp/ut/upcased.conf.load $CONF && systemctl reload upcased" ||
	    return 1
	[ "$rc" -eq 0 ] || return 1
	check "journal: $((n + 1)) reloaded MESSAGE_IDs" \
	    wait_for 10 eval '[ "$(count_msgid "$c" "$MSGID_RELOADED")" -eq $((n + 1)) ]' ||
	    return 1
	# "reloaded FILE: N workers"; the last one is workers = 0.
	got=$(journal_since "$c" -u upcased.service MESSAGE_ID=$MSGID_RELOADED |
	    sed -n 's/.*: \([0-9]*\) workers$/\1/p' | tr '\n' ' ')
	auto=${got% }
	auto=${auto##* }
	want=$(printf '%s ' $RELOAD_WORKERS 0 | sed "s/\b0\b/$auto/g")
	check "the worker pool followed: ${want% }" is "$got" "$want" || return 1
	check "still the same process" is "$(mainpid)" "$pid" || return 1
	check "the long-lived connections were answered" \
	    eval '[ "$(fig held_ok)" -gt 0 ]' || return 1
	check "not one long-lived connection broke" \
	    fig_none held $NOT_ACCEPTED $BROKEN other || return 1
	check "new connections were answered" \
	    eval '[ "$(fig new_ok)" -gt 0 ]' || return 1
	check "not one new connection refused or broken" \
	    fig_none new $NOT_ACCEPTED $BROKEN other || return 1
	check "every reply byte for byte, TCP and UDP" \
	    fig_at_most 0 held_wrong new_wrong udp_wrong || return 1
	check "active/running" wait_for 10 running
}

step7() {
	check "the default unit: upcased.service binds 8008 itself" \
	    is "$(prop upcased.socket ActiveState)/$(prop upcased.service ActiveState)" \
	    inactive/active || return 1
	reload_under_load "the default unit"
}

# After kill -9 the listening sockets stay with systemd: new clients wait
# in the backlog until Restart=on-failure (RestartSec=1s) brings upcased
# back.  Only the connections the killed process had accepted can be lost
# (broken in flight); none may be refused.
kill_it() {
	ct systemctl kill -s KILL upcased.service
}

step9() {
	local pid n inv rc=0
	check "socket activation: the socket and the service are active" \
	    is "$(prop upcased.socket ActiveState)/$(prop upcased.service ActiveState)" \
	    active/active || return 1
	check "Restart=on-failure, RestartSec=1s" \
	    is "$(prop upcased.service Restart)/$(prop upcased.service RestartUSec)" \
	    on-failure/1s || return 1
	pid=$(mainpid)
	n=$(prop upcased.service NRestarts)
	inv=$(prop upcased.socket InvocationID)
	check "systemctl kill -s KILL upcased.service under new connections and datagrams" \
	    steady_load 7 0 kill_it || rc=1
	[ -n "$LOAD" ] && figure "kill -9 under load (socket activation): new connections:" \
	    "$(fig new_ok) answered, $(fig_sum new_refused new_conn_timeout) refused" \
	    "or not accepted, $(fig_sum new_reset new_closed) broken in flight" \
	    "($(fig new_reset) reset, $(fig new_closed) closed), $(fig new_timeout) timed out," \
	    "$(fig new_wrong) wrong; answers resumed after $(fig max_gap_ms) ms" \
	    "(longest gap); $(fig new_late) answered after waiting in the backlog," \
	    "the longest $(fig new_max_ms) ms;" \
	    "UDP: $(fig udp_answered) of $(fig udp_sent) answered, $(fig udp_late)" \
	    "of them late (queued during the outage), $(fig udp_wrong) wrong"
	[ "$rc" -eq 0 ] || return 1
	check "systemd restarted it (new main PID, NRestarts + 1)" \
	    wait_for 10 eval '[ "$(mainpid)" != "$pid" ] && [ "$(mainpid)" != 0 ] && running && [ "$(prop upcased.service NRestarts)" = $((n + 1)) ]' ||
	    return 1
	check "the socket unit was not restarted" \
	    is "$(prop upcased.socket InvocationID)" "$inv" || return 1
	check "no new connection refused or left unaccepted" \
	    fig_none new $NOT_ACCEPTED || return 1
	check "every client queued during the outage answered (none timed out)" \
	    fig_none new timeout other || return 1
	check "every reply byte for byte, TCP and UDP" \
	    fig_at_most 0 new_wrong udp_wrong || return 1
	# One client in flight when the process died, a few at most.
	check "at most 5 broken in flight (accepted by the killed process)" \
	    fig_at_most 5 new_reset new_closed || return 1
	check "answers resumed within 5 s (longest gap)" \
	    fig_at_most 5000 max_gap_ms || return 1
	check "clients waited in the backlog during the outage, and were answered" \
	    eval '[ "$(fig new_late)" -gt 0 ] && [ "$(fig new_ok)" -ge 300 ]'
}

step10() {
	check "socket activation: the socket and the service are active" \
	    is "$(prop upcased.socket ActiveState)/$(prop upcased.service ActiveState)" \
	    active/active || return 1
	reload_under_load "socket activation"
}

# A steady stream of new connections for $1 seconds while "$3..." (what:
# $2) runs
# after 1.5 s: none may be refused, reset or time out.  (One may be
# closed unanswered: accepted by the daemon that stops, before its line
# arrived - see client.py.)
under_load() {
	local secs=$1 what=$2 out=/var/tmp/ut/stream.out rc
	shift 2
	ct rm -f "$out"
	ct_bg $((secs + 30)) sh -c \
	    "python3 /var/tmp/ut/client.py stream 127.0.0.1 8008 $secs >$out 2>&1"
	local bg=$BGPID
	sleep 1.5
	"$@"
	rc=$?
	wait "$bg"
	local crc=$?
	UT_BG=${UT_BG/ $bg/}
	ct cat "$out"
	note "stream of connections during $what: $(ct head -n 1 "$out")"
	[ "$rc" -eq 0 ] && [ "$crc" -eq 0 ] &&
	    ct grep -q ' refused=0 reset=0 timeout=0 closed=[01] other=0' "$out"
}

step8() {
	local c pid inv ts
	check "stop the service, enable and start the socket" \
	    ct sh -c 'systemctl stop upcased.service && systemctl enable --now upcased.socket' ||
	    return 1
	# enable --now may have started the service too (Also=): stop it,
	# the socket must start it again.
	ct systemctl stop upcased.service >>"$UT_STEPLOG" 2>&1
	check "the socket listens, the service is stopped" \
	    is "$(prop upcased.socket ActiveState)/$(prop upcased.service ActiveState)" \
	    active/inactive || return 1
	check "the socket is TCP and UDP 8008" \
	    matches "$(prop upcased.socket Listen | tr '\n' ' ')" \
	    '\[::\]:8008 \(Stream\) .*\[::\]:8008 \(Datagram\)' || return 1
	c=$(cursor)
	check "the first TCP connection starts it and is answered" \
	    client tcp 127.0.0.1 8008 || return 1
	check "service active" wait_for 10 running || return 1
	check "journal: started with UPCASED_SOCKET_ACTIVATION=yes" \
	    wait_for 5 entry_has "$c" "$MSGID_STARTED" \
	    UPCASED_SOCKET_ACTIVATION=yes || return 1
	check "journal: it says the ports of the file are not used" \
	    journal_matches "$c" "ports in $CONF are not used" || return 1
	check "answers TCP and UDP over IPv4 and IPv6 (BindIPv6Only=both)" \
	    answers 8008 || return 1
	check "stop the service, the socket stays" \
	    ct systemctl stop upcased.service || return 1
	check "service inactive, socket active" \
	    is "$(prop upcased.service ActiveState)/$(prop upcased.socket ActiveState)" \
	    inactive/active || return 1
	check "the first UDP datagram starts it and is answered" \
	    client udp 127.0.0.1 8008 || return 1
	check "service active" wait_for 10 running || return 1
	pid=$(mainpid)
	c=$(cursor)
	check "restart upcased.service under a stream of new connections: none refused" \
	    under_load 6 "systemctl restart" ct systemctl restart upcased.service ||
	    return 1
	check "it was restarted" isnt "$(mainpid)" "$pid" || return 1
	check "systemctl restart is a real restart (stopping and started MESSAGE_IDs), not a hand-over" \
	    eval '[ "$(count_msgid "$c" "$MSGID_STOPPING")" -eq 1 ] && [ "$(count_msgid "$c" "$MSGID_STARTED")" -eq 1 ] && [ "$(count_msgid "$c" "$MSGID_TOOK_OVER")" -eq 0 ]'
}

step11() {
	local c
	check "back to the default: the service binds the file's ports" \
	    ct sh -c 'systemctl stop upcased.socket upcased.service && systemctl disable upcased.socket && systemctl enable --now upcased.service' ||
	    return 1
	check "socket disabled, service enabled" \
	    is "$(ct systemctl is-enabled upcased.socket)/$(ct systemctl is-enabled upcased.service)" \
	    disabled/enabled || return 1
	check "active" wait_for 10 running || return 1
	check "8008 answers" wait_for 10 answers 8008 || return 1
	c=$(cursor)
	check "systemctl stop upcased" ct systemctl stop upcased || return 1
	check "inactive" prop_is upcased.service ActiveState inactive ||
	    return 1
	check "journal: stopping MESSAGE_ID" \
	    is "$(count_msgid "$c" "$MSGID_STOPPING")" 1 || return 1
	check "journal: stopped MESSAGE_ID, with its figures" \
	    entry_has "$c" "$MSGID_STOPPED" 'UPCASED_CONNECTIONS=*' \
	    'UPCASED_DATAGRAMS=*' 'UPCASED_BYTES_IN=*' \
	    'UPCASED_BYTES_OUT=*' || return 1
	check "exited with status 0, result success" \
	    is "$(prop upcased.service ExecMainCode)/$(prop upcased.service ExecMainStatus)/$(prop upcased.service Result)" \
	    1/0/success
}

step12() {
	local left
	check "apt-get purge upcased" \
	    ct_t 120 env DEBIAN_FRONTEND=noninteractive apt-get purge -y upcased ||
	    return 1
	check "dpkg knows it no more" \
	    eval '! ct dpkg-query -W -f="\${Status}" upcased 2>/dev/null | grep -q installed' ||
	    return 1
	left=$(ct sh -c 'ls -d /etc/upcased /usr/sbin/upcased /usr/bin/upcase \
	    /usr/libexec/upcased \
	    /lib/systemd/system/upcased.* /usr/lib/systemd/system/upcased.* \
	    /usr/lib/systemd/catalog/upcased.catalog \
	    /usr/share/man/man8/upcased.8.gz /usr/share/man/man5/upcased.conf.5.gz \
	    /usr/share/doc/upcased /var/lib/private/upcased \
	    /var/lib/dpkg/info/upcased.* 2>/dev/null;
	    find /etc/systemd /run/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
	    /var/lib/systemd/deb-systemd-helper-masked -name "*upcased*" 2>/dev/null')
	check "no unit, no conffile, no file left" is "$left" "" || return 1
	check "no unit file known to systemd" \
	    is "$(ct systemctl list-unit-files --no-legend 'upcased*')" "" ||
	    return 1
	check "no process left" \
	    eval '! ct pgrep -x upcased >/dev/null' || return 1
	check "the catalog entries are gone (dpkg trigger)" \
	    eval '! ct journalctl --list-catalog | grep -q upcased'
}

# --- the upgrade: N -> N+1 hands over (steps after 7 and 8) -------------------
#
# unitwatch.py records every change of the unit's ActiveState, SubState,
# MainPID and StatusText (polled every 20 ms or so) while dpkg -i runs
# under the steady load (25 s: dpkg -i with its triggers takes up to 15 s
# on a busy machine, and must end before the load does).

WATCH=/var/tmp/ut/unitwatch.out

# dpkg_install DEB: dpkg -i in the container; its output in DPKG_OUT, its
# start in DPKG_T0.
DPKG_OUT=
DPKG_T0=
dpkg_install() {
	local rc
	DPKG_T0=$(now)
	DPKG_OUT=$(ct_t 120 env DEBIAN_FRONTEND=noninteractive dpkg -i "$1" 2>&1)
	rc=$?
	say "dpkg -i $1: status $rc"
	printf '%s\n' "$DPKG_OUT"
	return "$rc"
}

# watched PID: the lines of the unit watcher, as "STATE/SUBSTATE PID".
watched() {
	ct cat "$WATCH" | awk -F '\t' '{ print $2 "/" $3, $4 }'
}

# handed_over OLDPID UPVERSION: dpkg's output says the hand-over from
# OLDPID succeeded, to upcased UPVERSION.
handed_over() {
	matches "$DPKG_OUT" "^upcased-handover: PID $1 handed over to PID [0-9]+ in [0-9]+ ms: upcased $(version_re "$2")\$"
}

# version_re VERSION: a regular expression matching VERSION: its "." and
# "+" quoted (a version has no other metacharacter: 0.1.0+next1).
version_re() {
	printf '%s' "$1" | sed 's/[.+]/\\&/g'
}

# upgrade_under_load WHAT DEB V UPV: dpkg -i DEB (its path in the
# container; package version V, whose
# upcased says UPV) under 20 long-lived sessions, new connections and
# datagrams; the running daemon must hand over to it with nothing broken,
# refused or wrong, the unit active throughout.
upgrade_under_load() {
	local what=$1 deb=$2 v=$3 upv=$4 c pid new n0 wbg rc=0 t_ready t_dpkg ms
	pid=$(mainpid)
	n0=$(prop upcased.service NRestarts)
	check "active/running, main PID $pid" running || return 1
	c=$(cursor)
	ct rm -f "$WATCH" "$WATCH.stop"
	ct_bg 90 python3 /var/tmp/ut/unitwatch.py upcased.service 60 "$WATCH"
	wbg=$BGPID
	check "the unit watcher runs" wait_for 5 ct test -s "$WATCH" || return 1
	check "dpkg -i $deb (version $v) under 20 long-lived sessions, new connections and datagrams" \
	    steady_load 25 20 dpkg_install "$deb" || rc=1
	ct touch "$WATCH.stop"
	wait "$wbg"
	UT_BG=${UT_BG/ $wbg/}
	say "unit watcher:" >>"$UT_STEPLOG"
	ct cat "$WATCH" >>"$UT_STEPLOG"
	new=$(mainpid)
	# READY=1 of the new process: the first active/running with its PID.
	t_ready=$(ct cat "$WATCH" | awk -F '\t' -v p="$new" \
	    '$2 == "active" && $3 == "running" && $4 == p { print $1; exit }')
	t_dpkg=$(awk -v a="$DPKG_T0" -v b="${t_ready:-0}" \
	    'BEGIN { if (b > 0) printf "%d", (b - a) * 1000; else print "?" }')
	ms=$(journal_since "$c" _PID="$pid" MESSAGE_ID="$MSGID_HANDED_OVER" |
	    sed -n 's/.* in \([0-9]*\) ms$/\1/p' | tail -n 1)
	[ -n "$LOAD" ] && figure "upgrade $V_N -> $v under load ($what):" \
	    "sessions: $(fig held) held, $(fig_sum held_reset held_closed held_timeout held_refused held_conn_timeout) broken," \
	    "$(fig held_ok) lines answered (longest exchange $(fig held_max_ms) ms);" \
	    "new connections: $(fig new_ok) answered, $(fig_sum new_refused new_conn_timeout) refused or not accepted," \
	    "$(fig_sum new_reset new_closed new_timeout) broken (longest $(fig new_max_ms) ms);" \
	    "UDP: $(fig udp_answered) of $(fig udp_sent) answered (longest $(fig udp_max_ms) ms);" \
	    "bytes checked: $(fig_sum held_bytes new_bytes udp_bytes)," \
	    "$(fig_sum held_wrong new_wrong udp_wrong) wrong; longest gap between answers $(fig max_gap_ms) ms;" \
	    "dpkg -i to the new version's READY=1: $t_dpkg ms (hand-over ${ms:-?} ms, from SIGUSR2 to go);" \
	    "unit states seen: $(watched | cut -d' ' -f1 | uniq | tr '\n' ' ')"
	[ "$rc" -eq 0 ] || return 1
	check "dpkg says $v" \
	    is "$(ct dpkg-query -W -f='${Version}' upcased)" "$v" || return 1
	check "postinst: handed over from PID $pid to upcased $upv" \
	    handed_over "$pid" "$upv" || return 1
	check "a new main PID, active/running" \
	    eval '[ "$new" != "$pid" ] && [ "$new" != 0 ] && running' || return 1
	check "not restarted: NRestarts $n0, no stopping or started MESSAGE_ID" \
	    eval '[ "$(prop upcased.service NRestarts)" = "$n0" ] && [ "$(count_msgid "$c" "$MSGID_STOPPING")" -eq 0 ] && [ "$(count_msgid "$c" "$MSGID_STARTED")" -eq 0 ]' ||
	    return 1
	check "the unit never left active: every state seen is active/running or reloading/reload, never without a main PID" \
	    eval '! watched | grep -v -E "^(active/running|reloading/reload) [1-9][0-9]*\$"' ||
	    return 1
	# (The hand-over's "reloading" lasts about 0.1 s: the watcher, polling,
	# may miss it.)
	note "states seen: $(watched | cut -d' ' -f1 | uniq | tr '\n' ' ')"
	check "READY=1 of the new process seen" \
	    matches "$t_ready" '^[0-9]+\.[0-9]+$' || return 1
	check "STATUS=: upcased $upv took over from PID $pid" \
	    eval 'ct cut -f5 "$WATCH" | grep -q -x -F "upcased $upv took over from PID $pid"' ||
	    return 1
	check "journal: handed over MESSAGE_ID from PID $pid naming $upv" \
	    pid_entry_has "$c" "$pid" "$MSGID_HANDED_OVER" \
	    UPCASED_SUCCESSOR="$new" UPCASED_VERSION="$upv" || return 1
	check "journal: took over MESSAGE_ID from PID $new, version $upv" \
	    entry_has "$c" "$MSGID_TOOK_OVER" _PID="$new" \
	    UPCASED_VERSION="$upv" UPCASED_PREDECESSOR="$pid" || return 1
	note "$(journal_since "$c" _PID="$new" MESSAGE_ID="$MSGID_TOOK_OVER" | tail -n 1)"
	check "systemd took every notification (none refused from another PID)" \
	    eval '! journal_since "$c" | grep -E "notification message from PID|reception only permitted"' ||
	    return 1
	check "the running binary is the new file, upcased $upv" \
	    eval 'ct readlink /proc/$new/exe | grep -q -x /usr/sbin/upcased && [ "$(ct /proc/$new/exe --version)" = "upcased $upv" ]' ||
	    return 1
	check "every session kept: none broken or refused" \
	    fig_none held $NOT_ACCEPTED $BROKEN other || return 1
	check "the sessions were answered" eval '[ "$(fig held_ok)" -gt 0 ]' ||
	    return 1
	check "not one new connection refused or broken" \
	    fig_none new $NOT_ACCEPTED $BROKEN other || return 1
	check "every reply byte for byte, TCP and UDP" \
	    fig_at_most 0 held_wrong new_wrong udp_wrong || return 1
	check "every datagram answered" \
	    eval '[ "$(fig udp_answered)" = "$(fig udp_sent)" ] && [ "$(fig udp_sent)" -gt 0 ]' ||
	    return 1
	check "answers TCP and UDP, IPv4 and IPv6" answers 8008
}

step_upgrade() {
	check "the default unit: upcased.service binds 8008 itself" \
	    is "$(prop upcased.socket ActiveState)/$(prop upcased.service ActiveState)" \
	    inactive/active || return 1
	check "version N installed" \
	    is "$(ct dpkg-query -W -f='${Version}' upcased)" "$V_N" || return 1
	upgrade_under_load "upcased.service" /var/tmp/ut/upcased-next.deb \
	    "$V_NEXT" "$UP_NEXT"
}

# The fallbacks of upcased-handover -r (as the postinst runs it).
step_refused() {
	local rc
	step_refused_body
	rc=$?
	check "restore the binary and the file, restart" \
	    ct sh -c "if [ -f /usr/sbin/upcased.real ]; then mv /usr/sbin/upcased.real /usr/sbin/upcased; fi; cp /var/tmp/ut/upcased.conf.orig $CONF && systemctl restart upcased" ||
	    return 1
	check "active" wait_for 10 running || return 1
	return "$rc"
}

step_refused_body() {
	local c pid out rc
	ct cp "$CONF" /var/tmp/ut/upcased.conf.orig
	pid=$(mainpid)
	# The file edited, not reloaded: the new binary refuses it, so would
	# a restart.  No restart: the old process serves on.
	ct sed -i 's/idle_timeout = 300;/idle_timeout = -5;/' "$CONF"
	c=$(cursor)
	out=$(ct "$HANDOVER" -r 2>&1)
	rc=$?
	note "upcased-handover -r with a bad file: status $rc: $(printf '%s' "$out" | head -n 1)"
	check "a bad file: upcased-handover -r exits 1, does not restart" \
	    is "$rc" 1 || return 1
	check "it says why" matches "$out" "idle_timeout: -5 is out of range" ||
	    return 1
	check "journal: the hand-over config MESSAGE_ID from PID $pid" \
	    pid_entry_has "$c" "$pid" "$MSGID_HANDOVER_CONFIG" || return 1
	check "the same process serves on, active/running" \
	    eval '[ "$(mainpid)" = "$pid" ] && running' || return 1
	check "8008 answers" answers 8008 || return 1
	ct cp /var/tmp/ut/upcased.conf.orig "$CONF"
	# A binary that dies instead of taking over: refused, then the
	# fallback restart (the wrapper runs the real binary for it).
	check "a binary that exits 3 when asked to take over" \
	    ct sh -c 'mv /usr/sbin/upcased /usr/sbin/upcased.real && printf "#!/bin/sh\ncase \"\$*\" in *--take-over*) exit 3 ;; esac\nexec /usr/sbin/upcased.real \"\$@\"\n" >/usr/sbin/upcased && chmod 755 /usr/sbin/upcased' ||
	    return 1
	c=$(cursor)
	out=$(ct "$HANDOVER" -r 2>&1)
	rc=$?
	note "upcased-handover -r with a successor that exits 3: status $rc: $(printf '%s' "$out" | tr '\n' ' ')"
	check "upcased-handover -r exits 3: restarted instead" is "$rc" 3 ||
	    return 1
	out=$(journal_since "$c" _PID="$pid" MESSAGE_ID="$MSGID_HANDOVER_DIED")
	check "journal: the hand-over died MESSAGE_ID from PID $pid: exited with status 3" \
	    matches "$out" "exited with status 3" || return 1
	check "restarted: a new main PID, a started MESSAGE_ID" \
	    eval '[ "$(mainpid)" != "$pid" ] && running && [ "$(count_msgid "$c" "$MSGID_STARTED")" -ge 1 ]' ||
	    return 1
	check "8008 answers" wait_for 10 answers 8008
}

step_upgrade_socket() {
	local pid inv ts
	check "socket activation: the socket and the service are active" \
	    is "$(prop upcased.socket ActiveState)/$(prop upcased.service ActiveState)" \
	    active/active || return 1
	inv=$(prop upcased.socket InvocationID)
	ts=$(prop upcased.socket ActiveEnterTimestampMonotonic)
	# Back to N first (dpkg -i of an older version is an upgrade too).
	pid=$(mainpid)
	check "dpkg -i version N again: handed over to upcased $UP_N" \
	    eval 'dpkg_install /var/tmp/ut/upcased.deb && handed_over "$pid" "$UP_N"' ||
	    return 1
	check "active/running" wait_for 10 running || return 1
	upgrade_under_load "socket activation" /var/tmp/ut/upcased-next.deb \
	    "$V_NEXT" "$UP_NEXT" || return 1
	check "the socket unit was never restarted" \
	    is "$(prop upcased.socket InvocationID)/$(prop upcased.socket ActiveEnterTimestampMonotonic)" \
	    "$inv/$ts"
}

# --- run -------------------------------------------------------------------

say "1..$NSTEPS"
PASSED=0
FAILED_STEPS=
C0=$(cursor)
N=0
# run_step FUNCTION DESCRIPTION [ARGS]: TAP step number N+1.
run_step() {
	local fn=$1 name=$2 n t0 ok=1
	shift 2
	N=$((N + 1))
	n=$N
	UT_STEPLOG=$WORK/$fn.log
	: >"$UT_STEPLOG"
	: >"$UT_STEPLOG.figures"
	t0=$(now)
	"$fn" "$@" || ok=0
	if ! check "systemctl --failed is empty" no_failed_units; then
		ok=0
	fi
	if [ "$ok" -eq 1 ]; then
		say "ok $n - $name ($(elapsed "$t0") s)"
		sed -e 's/^/# figure: /' "$UT_STEPLOG.figures"
		PASSED=$((PASSED + 1))
		# The checks, for the record.
		grep -E '^    (ok|note): ' "$UT_STEPLOG" |
		    sed -e 's/^    ok: /#   /' -e 's/^    note: /#     -> /'
	else
		say "not ok $n - $name ($(elapsed "$t0") s)"
		sed -e 's/^/# figure: /' "$UT_STEPLOG.figures"
		FAILED_STEPS="$FAILED_STEPS $n"
		diag <"$UT_STEPLOG"
		{
			ct systemctl status upcased.service upcased.socket --no-pager -n 0
			ct journalctl -q --no-pager -n 25 -u upcased.service -u upcased.socket
		} 2>&1 | diag
	fi
}

run_step step1 "install the package"
run_step step2 "the default unit is active, echo on 8008, journal fields" "$C0"
run_step step_blackbox "blackbox exporter with the shipped module: probe_success 1 on the echo, 0 where it fails"
run_step step_prometheus "Prometheus with the shipped config scrapes upcased: /api/v1/query counts the connections"
run_step step3 "edit the port, reload: new port, old connection served, STATUS="
run_step step4 "broken config: reload fails visibly, SIGHUP refused, still serving"
run_step step5 "kill -9: Restart=on-failure restarts it"
run_step step6 "SIGSTOP under WatchdogSec=3s: the watchdog restarts it"
run_step step7 "reload under load: no connection broken, every reply right"
run_step step_upgrade "upgrade N -> N+1 under load: handed over, no session broken, nothing refused, the unit active throughout"
run_step step_refused "hand-over refused: a bad file keeps the old process; a successor that dies falls back to a restart"
run_step step8 "socket activation: TCP and UDP start it, restart refuses nothing"
run_step step_upgrade_socket "upgrade N -> N+1 under load, socket activation: handed over, nothing broken or refused"
run_step step9 "kill -9 under load, socket activation: nothing refused, answers resume"
run_step step10 "reload under load, socket activation: no connection broken"
run_step step11 "systemctl stop: clean stop, exit status 0"
run_step step12 "apt-get purge: nothing left"

say "# $PASSED of $NSTEPS steps passed in $(elapsed "$T_ALL") s${FAILED_STEPS:+ (failed:$FAILED_STEPS)}"
[ "$PASSED" -eq "$NSTEPS" ]
