#!/bin/bash
# tests/run-all.sh - the whole test suite, exactly as CI runs it.
#
# Installs what it needs (tests/deps.sh), then, each in its own build
# directory under build-ci/:
#   1. gcc, -Werror: make check (unit + integration), the hostile-client
#      suite (tests/hostile), the unit tests under valgrind, the packaging
#      checks (make check-packaging), and make distcheck;
#   2. ASan + UBSan: make check;
#   3. TSan: make check;
#   4. every libFuzzer target for FUZZ_SECONDS (default 60) each
#      (tests/fuzz/run.sh, clang -fsanitize=fuzzer,address,undefined);
#   5. the load-balancer suite (tests/balancer): the gcc build behind the
#      real HAProxy and nginx, in network namespaces (root);
#   6. the system test on a real systemd in a container (tests/system),
#      when this is root with systemd-nspawn; said clearly when skipped.
# Ends with "N passed, N failed" over every test case of every stage, and
# exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD
out=$top/build-ci
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
failures=()
why=()		# logs to quote the reasons of failure from, at the end

note() { printf '\n=== %s\n' "$*"; }

# Add the results of an automake test-suite.log to the totals.
count_suite() {
	local log=$1 stage=$2 p f
	if [ ! -f "$log" ]; then
		failed=$((failed + 1)); failures+=("$stage: no test-suite.log")
		return
	fi
	p=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
	f=$(( $(sed -n 's/^# FAIL: *//p' "$log" | head -1) + \
	    $(sed -n 's/^# ERROR: *//p' "$log" | head -1) + \
	    $(sed -n 's/^# XPASS: *//p' "$log" | head -1) ))
	passed=$((passed + p)); failed=$((failed + f))
	echo "$stage: $p passed, $f failed"
	if [ "$f" -gt 0 ]; then
		failures+=("$stage: $f failed (see $log)")
		grep -E '^(FAIL|ERROR|XPASS)' "$log" | head -40
		why+=("$log")
	fi
}

# One pass/fail result for a whole step.
count_step() {
	local stage=$1 rc=$2
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); echo "$stage: passed"
	else
		failed=$((failed + 1)); failures+=("$stage")
		echo "$stage: FAILED (exit $rc)"
	fi
}

# A TAP stream in a file: add its ok / not ok lines to the totals.
count_tap() {
	local file=$1 stage=$2 rc=$3 p f
	p=$(grep -c '^ok ' "$file")
	f=$(grep -c '^not ok ' "$file")
	passed=$((passed + p)); failed=$((failed + f))
	echo "$stage: $p passed, $f failed"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		failed=$((failed + 1)); tail -30 "$file"
	fi
	[ "$rc" -ne 0 ] && failures+=("$stage (see $file)") && why+=("$file")
	return 0
}

# The failed tests of a log and what each said of why (its exception or
# assertion line), short enough to read at the end of CI's output.
quote_why() {
	echo "--- why, from $1:"
	grep -E '^(not ok|FAIL:|ERROR:|XPASS:|# *[A-Za-z.]*(Error|Exception|Expired|Timeout)\b|# *Assertion|.*(Assertion|assertion) .*failed|.*ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|libFuzzer))' \
	    "$1" | cut -c1-300 | head -30
}

# configure + make in build-ci/NAME (in a subshell: the caller stays in
# the source tree); returns non-zero on failure.
build() {
	local name=$1; shift
	mkdir -p "$out/$name" || return 1
	(
		cd "$out/$name" || exit 1
		if ! "$top/configure" --enable-werror "$@" >configure.out 2>&1
		then
			tail -30 configure.out; exit 1
		fi
		if ! make -j"$jobs" >make.out 2>&1; then
			tail -40 make.out; exit 1
		fi
	)
}

check() {
	local name=$1
	( cd "$out/$name" && make -j"$jobs" check >check.out 2>&1 )
	count_suite "$out/$name/test-suite.log" "$name"
}

note "dependencies"
sh tests/deps.sh test || { echo "0 passed, 1 failed"; exit 1; }

note "autoreconf"
autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed"; echo "0 passed, 1 failed"; exit 1; }
rm -rf "$out"

note "gcc -Werror: build, make check"
if build gcc; then
	check gcc
	note "hostile-client suite (make check-hostile)"
	( cd "$out/gcc" && make check-hostile >hostile.out 2>&1 )
	rc=$?
	sed -n '/^# --- figures/,$p' "$out/gcc/hostile.out"
	count_tap "$out/gcc/hostile.out" "hostile suite" $rc
	note "unit tests under valgrind"
	( cd "$out/gcc" && make check-valgrind >valgrind.out 2>&1 )
	rc=$?; [ $rc -ne 0 ] && tail -40 "$out/gcc/valgrind.out"
	count_step "valgrind (unit tests)" $rc
	note "packaging checks (man --warnings, shellcheck, systemd-analyze)"
	( cd "$out/gcc" && make check-packaging >packaging.out 2>&1 )
	rc=$?; cat "$out/gcc/packaging.out" | grep -v '^make' | tail -12
	count_step "packaging checks" $rc
	note "make distcheck"
	( cd "$out/gcc" && make -j"$jobs" distcheck >distcheck.out 2>&1 )
	rc=$?; [ $rc -ne 0 ] && tail -40 "$out/gcc/distcheck.out"
	count_step "distcheck" $rc
	[ $rc -ne 0 ] && why+=($(find "$out/gcc" -path '*/_build/*' \
	    -name test-suite.log 2>/dev/null))
else
	count_step "gcc build" 1
fi

note "ASan + UBSan: build, make check"
if build asan --enable-sanitizers=address,undefined; then
	check asan
else
	count_step "asan build" 1
fi

note "TSan: build, make check"
if build tsan --enable-sanitizers=thread; then
	check tsan
else
	count_step "tsan build" 1
fi


note "fuzzing (libFuzzer, ${FUZZ_SECONDS:-60} s per target)"
FUZZ_OUT="$out/fuzz" FUZZ_SECONDS="${FUZZ_SECONDS:-60}" \
    bash "$top/tests/fuzz/run.sh" >"$out/fuzz.out" 2>&1
rc=$?
grep -E '^(ok|not ok)' "$out/fuzz.out"
count_tap "$out/fuzz.out" "fuzz" $rc

note "load-balancer suite (real HAProxy and nginx, network namespaces)"
if [ "$(id -u)" = 0 ] && [ -x "$out/gcc/src/upcased" ]; then
	( cd "$out/gcc" && make check-balancer >balancer.out 2>&1 )
	rc=$?
	grep -E '^(ok|not ok)' "$out/gcc/balancer.out"
	sed -n '/^# --- figures/,$p' "$out/gcc/balancer.out"
	count_tap "$out/gcc/balancer.out" "balancer suite" $rc
elif [ "${CI:-}" = true ]; then
	echo "FAILED: in CI the balancer suite must run (root, a gcc build)"
	failed=$((failed + 1)); failures+=("balancer suite could not run")
else
	echo "SKIPPED: the balancer suite needs root (network namespaces)" \
	    "and the gcc build"
fi

note "system test (real systemd in a container)"
if [ -x "$top/tests/system/run.sh" ] && [ "$(id -u)" = 0 ] &&
    command -v systemd-nspawn >/dev/null; then
	bash "$top/tests/system/run.sh" >"$out/system.out" 2>&1
	rc=$?
	grep -E '^(ok|not ok|# [0-9]+ of|# figure: )' "$out/system.out"
	count_tap "$out/system.out" "system test" $rc
elif [ "${CI:-}" = true ]; then
	echo "FAILED: in CI the system test must run (root, systemd-nspawn)"
	failed=$((failed + 1)); failures+=("system test could not run")
else
	echo "SKIPPED: the system test needs root and systemd-nspawn" \
	    "(sh tests/deps.sh test installs it)"
fi

note "summary"
for f in "${why[@]}"; do quote_why "$f"; done
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
