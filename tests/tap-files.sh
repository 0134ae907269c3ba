# tap-files.sh - the TAP loop shared by the suites that run by hand
# (tests/hostile/run.sh, tests/balancer/run.sh); sourced, never run.
#
# The caller defines tap_file_exec, which runs one test file (its path
# is $1) and exits with its status, then:
#
#   tap_files OUT FILE...        run each file: "# --- name", its TAP as
#                                it comes (kept in OUT/name.tap), and a
#                                verdict line per file for tap_summary
#   tap_figures LABEL WIDTH      the table "LABEL | figure | bound" of
#                                every "# FIGURE ..." line of OUT/*.tap
#   tap_summary                  the verdicts and "# N file(s) failed; ...";
#                                status 1 if any file failed
#
# A file fails if it exits non-zero, prints "not ok", or does not print
# its plan (it did not run to its end).  With TAP_FILES_BACKGROUND=1 each
# file runs in the background and the shell waits for it: a signal then
# interrupts "wait" at once (a trap runs only once the foreground command
# is over); only for a caller whose trap stops what the file started (a
# background command starts with SIGINT ignored).  tests/run-all.sh
# counts the "ok" / "not ok" lines and prints from "# --- figures" on.

tap_files() {
	tap_out=$1
	shift
	tap_failed=0
	tap_verdicts=
	tap_start=$(date +%s)
	for tap_t in "$@"; do
		tap_name=$(basename "$tap_t" .py)
		echo "# --- $tap_name"
		tap_t0=$(date +%s)
		if [ "${TAP_FILES_BACKGROUND:-0}" = 1 ]; then
			{ tap_file_exec "$tap_t" 2>&1
			  echo $? >"$tap_out/$tap_name.rc"; } |
			    tee "$tap_out/$tap_name.tap" &
			wait $!
		else
			{ tap_file_exec "$tap_t" 2>&1
			  echo $? >"$tap_out/$tap_name.rc"; } |
			    tee "$tap_out/$tap_name.tap"
		fi
		tap_rc=$(cat "$tap_out/$tap_name.rc" 2>/dev/null || echo 1)
		tap_secs=$(($(date +%s) - tap_t0))
		if [ "$tap_rc" != 0 ] ||
		    grep -q '^not ok' "$tap_out/$tap_name.tap" ||
		    ! grep -q '^1\.\.[0-9]' "$tap_out/$tap_name.tap"; then
			tap_failed=$((tap_failed + 1))
			tap_verdicts="$tap_verdicts$tap_name: FAILED (exit $tap_rc, ${tap_secs} s)
"
		else
			tap_verdicts="$tap_verdicts$tap_name: ok (${tap_secs} s)
"
		fi
	done
}

tap_figures() {
	echo
	echo "# --- figures"
	cat "$tap_out"/*.tap | sed -n 's/^# FIGURE //p' |
	    LC_ALL=C sort -s -t '|' -k1,1 |
	    awk -F ' [|] ' -v label="$1" -v minw="$2" '
		{ c[NR] = $1; f[NR] = $2; b[NR] = $3; if (length($1) > w) w = length($1) }
		END {
			if (w < minw) w = minw
			printf "%-*s | %s | %s\n", w, label, "figure", "bound"
			for (i = 1; i <= NR; i++)
				printf "%-*s | %s | %s\n", w, c[i], f[i], b[i]
		}'
}

tap_summary() {
	echo
	printf '%s' "$tap_verdicts"
	echo "# $tap_failed file(s) failed; $(($(date +%s) - tap_start)) s in all"
	[ "$tap_failed" -eq 0 ]
}
