# tests/system/lib.sh - helpers of tests/system/run.sh (sourced, POSIX sh
# with "local"): the container, commands inside it, journal cursors,
# bounded waits, and TAP output.
#
# The container is systemd-nspawn booting a real systemd as PID 1 on an
# overlay of the host's root file system (upper layer on a tmpfs), with a
# private network (loopback only).  Everything the test starts is recorded
# by PID and ended by PID in ut_teardown, which run.sh traps on every exit.

UT_ROOT=		# tmpfs holding the overlay's layers and mount point
UT_MNT=			# the container's root
UT_NSPAWN=		# PID of systemd-nspawn
UT_LEADER=		# PID of the container's PID 1, as seen from the host
UT_BG=			# PIDs of background clients
UT_STEPLOG=		# where the current step's output goes
UT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() {
	printf '%s\n' "$*"
}

# Diagnostics as TAP comments.
diag() {
	sed -e 's/^/# /'
}

# Seconds since the epoch, with milliseconds.
now() {
	date +%s.%3N
}

elapsed() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

# Boot the container.  $1: directory of files to copy into /var/tmp/ut.
ut_boot() {
	UT_ROOT=$(mktemp -d /run/upcased-systest.XXXXXX) || return 1
	mount -t tmpfs -o mode=0700 tmpfs "$UT_ROOT" || { rmdir "$UT_ROOT"; UT_ROOT=; return 1; }
	mkdir "$UT_ROOT/u" "$UT_ROOT/w" "$UT_ROOT/m"
	mount -t overlay overlay \
	    -o "lowerdir=/,upperdir=$UT_ROOT/u,workdir=$UT_ROOT/w" \
	    "$UT_ROOT/m" || return 1
	UT_MNT=$UT_ROOT/m
	# The image's "never start services" stub would keep dh's
	# maintainer scripts from starting upcased.
	rm -f "$UT_MNT/usr/sbin/policy-rc.d"
	# Prometheus and its blackbox exporter are started by the steps that
	# need them, with upcased's example configuration: never at boot
	# with the host's, should the host have them enabled.
	rm -f "$UT_MNT/etc/systemd/system/multi-user.target.wants/prometheus.service" \
	    "$UT_MNT/etc/systemd/system/multi-user.target.wants/prometheus-blackbox-exporter.service"
	mkdir -p "$UT_MNT/var/tmp/ut"
	cp "$1"/* "$UT_MNT/var/tmp/ut/" || return 1

	systemd-nspawn -D "$UT_MNT" --register=no --keep-unit \
	    --console=pipe --private-network \
	    -b systemd.firstboot=off >"$UT_ROOT/boot.log" 2>&1 </dev/null &
	UT_NSPAWN=$!
	# nspawn's first child forks the container's PID 1 and exits: wait
	# for a child that runs systemd.
	for _ in $(seq 1 150); do
		UT_LEADER=$(pgrep -x -P "$UT_NSPAWN" systemd | head -n 1)
		[ -n "$UT_LEADER" ] && break
		kill -0 "$UT_NSPAWN" 2>/dev/null || break
		sleep 0.2
	done
	if [ -z "$UT_LEADER" ]; then
		say "container did not start:"
		tail -n 20 "$UT_ROOT/boot.log"
		return 1
	fi
	# nsenter until systemd answers, then wait for the boot to finish.
	for _ in $(seq 1 100); do
		ct systemctl is-system-running >/dev/null 2>&1 && break
		case $(ct systemctl is-system-running 2>/dev/null) in
		starting|running|degraded) break ;;
		esac
		sleep 0.2
	done
	ct_t 120 systemctl is-system-running --wait
}

ut_teardown() {
	local p

	for p in $UT_BG; do
		kill "$p" 2>/dev/null
	done
	for p in $UT_BG; do
		wait "$p" 2>/dev/null
	done
	UT_BG=
	if [ -n "$UT_NSPAWN" ] && kill -0 "$UT_NSPAWN" 2>/dev/null; then
		# SIGTERM: nspawn asks the container's systemd to power off.
		kill "$UT_NSPAWN" 2>/dev/null
		for _ in $(seq 1 150); do
			kill -0 "$UT_NSPAWN" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$UT_NSPAWN" 2>/dev/null; then
			say "# container did not power off in 30 s: killing it"
			kill -KILL "$UT_NSPAWN" 2>/dev/null
		fi
		wait "$UT_NSPAWN" 2>/dev/null
	fi
	UT_NSPAWN=
	if [ -n "$UT_MNT" ]; then
		umount "$UT_MNT" 2>/dev/null || umount -l "$UT_MNT"
		UT_MNT=
	fi
	if [ -n "$UT_ROOT" ]; then
		umount "$UT_ROOT" 2>/dev/null || umount -l "$UT_ROOT"
		rmdir "$UT_ROOT"
		UT_ROOT=
	fi
}

# Run a command inside the container: ct_t SECONDS CMD..., ct CMD...
ct_t() {
	local t=$1
	shift
	timeout -k 5 "$t" nsenter -t "$UT_LEADER" -a "$@" </dev/null
}

ct() {
	ct_t 60 "$@"
}

# In the background; the PID is added to UT_BG and printed.
ct_bg() {
	local t=$1
	shift
	timeout -k 5 "$t" nsenter -t "$UT_LEADER" -a "$@" </dev/null &
	UT_BG="$UT_BG $!"
	# shellcheck disable=SC2034 # read by run.sh
	BGPID=$!
}

# The client helper, inside the container.
client() {
	ct python3 /var/tmp/ut/client.py "$@"
}

# A journal cursor now; then journal_since CURSOR [journalctl args].
cursor() {
	ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p'
}

# journal_since CURSOR [-u UNIT] [FIELD=VALUE...] [-o cat|json]: the
# entries after CURSOR, filtered by jfilter.py (see there why).
journal_since() {
	local c=$1
	shift
	ct journalctl -q --no-pager --after-cursor="$c" -o json |
	    python3 "$UT_HERE/jfilter.py" "$@"
}

# Count journal entries of upcased with MESSAGE_ID $2 after cursor $1.
count_msgid() {
	journal_since "$1" -u upcased.service MESSAGE_ID="$2" | grep -c .
}

prop() {
	ct systemctl show -p "$2" --value "$1"
}

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
	local end
	end=$(awk -v n="$(now)" -v t="$1" 'BEGIN { printf "%.3f", n + t }')
	shift
	while :; do
		"$@" && return 0
		awk -v n="$(now)" -v e="$end" 'BEGIN { exit !(n > e) }' && break
		sleep 0.2
	done
	"$@"
}

# check DESCRIPTION CMD...: run CMD, log both; fails if CMD fails.
check() {
	local what=$1 rc
	shift
	"$@" >>"$UT_STEPLOG" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		say "    ok: $what" >>"$UT_STEPLOG"
	else
		say "    FAILED: $what (status $rc)" >>"$UT_STEPLOG"
	fi
	return "$rc"
}

# note TEXT: a figure worth printing under the step's result.
note() {
	say "    note: $*" >>"$UT_STEPLOG"
}

# figure TEXT: a measurement of the step, printed as "# figure: TEXT"
# right under its ok / not ok line, pass or fail.
figure() {
	say "$*" >>"$UT_STEPLOG.figures"
}

# String helpers that take the value as an argument (for check/wait_for).
is() {
	[ "$1" = "$2" ] || { say "got '$1', expected '$2'"; return 1; }
}

isnt() {
	[ "$1" != "$2" ] || { say "got '$1', expected anything else"; return 1; }
}

matches() {
	printf '%s\n' "$1" | grep -E -q -- "$2" ||
	    { say "'$1' does not match /$2/"; return 1; }
}

# prop_is UNIT PROPERTY VALUE
prop_is() {
	is "$(prop "$1" "$2")" "$3"
}

no_failed_units() {
	local f
	f=$(ct systemctl --failed --no-legend --plain)
	[ -z "$f" ] || { say "failed units: $f"; return 1; }
}
