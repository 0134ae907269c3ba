#!/bin/bash
# tests/fuzz/run.sh - build every fuzz target with clang (libFuzzer, ASan,
# UBSan) and run each for a bounded time; TAP on stdout.
#
#   FUZZ_SECONDS   time per target (default 60)
#   FUZZ_OUT       build and scratch directory (default build-fuzz)
#   FUZZ_TARGETS   targets to run (default: "config tcp transform exitmatch
#                  proxyproto prefix acl handover")
#   FUZZ_CC        compiler (default clang)
#
# Layout under $FUZZ_OUT: obj/ and libupcased-fuzz.a (src/*.c but main.c
# and the client, instrumented), fuzz_NAME (the targets), corpus/NAME (a
# fresh copy of tests/fuzz/corpus/NAME each run: the repository's corpus
# is never modified), artifacts/NAME/ (crash inputs), logs/NAME.log.
#
# Prints "ok N - fuzz_NAME: EXECS execs in S s" per target, or "not ok"
# with the artifact, the command that reproduces it and the end of the
# report; exits non-zero if a build or any target failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$PWD
out=${FUZZ_OUT:-build-fuzz}
case $out in /*) ;; *) out=$top/$out ;; esac
secs=${FUZZ_SECONDS:-60}
read -r -a targets <<<"${FUZZ_TARGETS:-config tcp transform exitmatch proxyproto prefix acl handover}"
cc=${FUZZ_CC:-clang}
jobs=$(nproc 2>/dev/null || echo 2)

bail() {
	echo "Bail out! $*"
	exit 1
}

command -v "$cc" >/dev/null 2>&1 || bail "$cc not found (apt-get install clang libclang-rt-dev)"
pkgs=(libsystemd libconfig libutf8proc)
deps_cflags=$(pkg-config --cflags "${pkgs[@]}") || bail "pkg-config: ${pkgs[*]}"
deps_libs=$(pkg-config --libs "${pkgs[@]}") || bail "pkg-config: ${pkgs[*]}"

version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' configure.ac)
# shellcheck disable=SC2054,SC2206
cflags=(-g -O1 -std=c11 -pthread -D_GNU_SOURCE
    "-DPACKAGE_VERSION=\"${version:-unknown}\"" -Isrc $deps_cflags
    -Wall -Wextra -fsanitize=address,undefined
    -fno-sanitize-recover=undefined)

# --- build ------------------------------------------------------------------
mkdir -p "$out/obj" "$out/logs" || bail "cannot create $out"
: >"$out/logs/build.log"
build_failed() {
	sed 's/^/# /' "$out/logs/build.log" | tail -40
	bail "$* (see $out/logs/build.log)"
}
# Everything the daemon links but main.c (as src/libupcased.a), with
# coverage; the archive lets each target pull only what it uses.
objs=()
pids=()
for f in src/*.c; do
	case ${f##*/} in main.c | client*.c) continue ;; esac
	o=$out/obj/$(basename "$f" .c).o
	objs+=("$o")
	"$cc" "${cflags[@]}" -fsanitize=fuzzer-no-link -c "$f" -o "$o" \
	    >>"$out/logs/build.log" 2>&1 &
	pids+=($!)
	if [ "${#pids[@]}" -ge "$jobs" ]; then
		wait "${pids[0]}" || build_failed "compiling src/ failed"
		pids=("${pids[@]:1}")
	fi
done
for p in "${pids[@]}"; do
	wait "$p" || build_failed "compiling src/ failed"
done
rm -f "$out/libupcased-fuzz.a"
ar rcs "$out/libupcased-fuzz.a" "${objs[@]}" >>"$out/logs/build.log" 2>&1 ||
	build_failed "ar failed"
# fuzz_tcp links the transform without coverage (still with ASan and
# UBSan): fuzz_transform covers it, and its per-byte branches would
# otherwise make every new byte pattern "new coverage" for the engine and
# cost fuzz_tcp two thirds of its speed.  Linked before the archive, it
# keeps the archive's instrumented copy out.
"$cc" "${cflags[@]}" -c src/upcase.c -o "$out/obj/upcase-nocov.o" \
    >>"$out/logs/build.log" 2>&1 || build_failed "compiling src/upcase.c"
for t in "${targets[@]}"; do
	[ -f "tests/fuzz/fuzz_$t.c" ] || bail "no target tests/fuzz/fuzz_$t.c"
	extra=()
	[ "$t" = tcp ] && extra=("$out/obj/upcase-nocov.o")
	# shellcheck disable=SC2086
	"$cc" "${cflags[@]}" -Werror -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" \
	    "${extra[@]}" "$out/libupcased-fuzz.a" $deps_libs \
	    -o "$out/fuzz_$t" >>"$out/logs/build.log" 2>&1 ||
		build_failed "building fuzz_$t failed"
done

# --- run --------------------------------------------------------------------
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
echo "1..${#targets[@]}"
n=0
failed=0
total=0
start_all=$(date +%s)
for t in "${targets[@]}"; do
	n=$((n + 1))
	corpus=$out/corpus/$t
	art=$out/artifacts/$t/
	log=$out/logs/$t.log
	rm -rf "$corpus" "$art"
	mkdir -p "$corpus" "$art"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp -R "tests/fuzz/corpus/$t/." "$corpus/"
	fi
	# The shipped file as it is now, beside the seeds.
	[ "$t" = config ] && cp etc/upcased.conf "$corpus/etc-upcased.conf"
	# fuzz_config keeps its scratch directory there (left behind by a
	# crash, removed on a normal exit).
	mkdir -p "$out/tmp"
	t0=$(date +%s)
	TMPDIR=$out/tmp "$out/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 \
	    -timeout=10 -print_final_stats=1 -artifact_prefix="$art" \
	    "$corpus" >"$log" 2>&1 </dev/null
	rc=$?
	took=$(($(date +%s) - t0))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	execs=${execs:-0}
	total=$((total + execs))
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - fuzz_$t: $execs execs in $took s"
		continue
	fi
	failed=$((failed + 1))
	echo "not ok $n - fuzz_$t: exit status $rc after $execs execs in $took s"
	artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
	if [ -n "$artifact" ]; then
		echo "# artifact: $artifact"
		echo "# reproduce: $out/fuzz_$t $artifact"
	fi
	echo "# log: $log"
	# The report: from the sanitizer's or the target's first line.
	first=$(grep -n -m1 -E '^==[0-9]+==|^fuzz_[a-z]+:|runtime error:|^ALARM|out-of-memory' "$log" | cut -d: -f1)
	if [ -n "$first" ]; then
		tail -n +"$first" "$log" | grep -v '^$' | head -60 | sed 's/^/# /'
	else
		tail -40 "$log" | sed 's/^/# /'
	fi
done
echo "# total: $total execs in $(($(date +%s) - start_all)) s, $failed of ${#targets[@]} targets failed"
[ "$failed" -eq 0 ]
