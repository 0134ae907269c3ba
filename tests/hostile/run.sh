#!/bin/sh
# run.sh - the hostile-client suite (tests/hostile/README.md).
#
# Runs every tests/hostile/test_hostile_*.py against $UPCASED_BIN
# (default: build/src/upcased under the source tree), prints the TAP of
# each, then one table "case | figure | bound" made of the
# "# FIGURE case | figure | bound" lines the cases print.  Exit status 1
# if any test failed (or a file did not run to its end).
#
# The source tree is found from this script's own location, so it works
# from any directory and with an out-of-tree build:
#   UPCASED_BIN=/path/to/build/src/upcased sh tests/hostile/run.sh
# Loopback only.  Binding UDP ports 7 and 19 and forging a source address
# need root (else those parts are skipped).  About 45 s on 2 cores.

set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
UPCASED_BIN=${UPCASED_BIN:-$srcdir/build/src/upcased}
case $UPCASED_BIN in
/*) ;;
*) UPCASED_BIN=$(pwd)/$UPCASED_BIN ;;
esac
PYTHON3=${PYTHON3:-python3}

if [ ! -x "$UPCASED_BIN" ]; then
	echo "run.sh: UPCASED_BIN $UPCASED_BIN is not an executable" >&2
	exit 2
fi

UPCASED_SRCDIR=$srcdir
PYTHONPATH=$srcdir/tests/integration:$here${PYTHONPATH:+:$PYTHONPATH}
PYTHONDONTWRITEBYTECODE=1
export UPCASED_BIN UPCASED_SRCDIR PYTHONPATH PYTHONDONTWRITEBYTECODE

out=$(mktemp -d "${TMPDIR:-/tmp}/upcased-hostile.XXXXXX") || exit 2
trap 'rm -rf "$out"' EXIT
trap 'exit 130' INT TERM

echo "# upcased hostile-client suite: $UPCASED_BIN"
failed=0
summary=
start=$(date +%s)
for t in "$here"/test_hostile_*.py; do
	name=$(basename "$t" .py)
	echo "# --- $name"
	t0=$(date +%s)
	{ "$PYTHON3" "$t" 2>&1; echo $? >"$out/$name.rc"; } | tee "$out/$name.tap"
	rc=$(cat "$out/$name.rc" 2>/dev/null || echo 1)
	secs=$(($(date +%s) - t0))
	if [ "$rc" != 0 ] || grep -q '^not ok' "$out/$name.tap" ||
	    ! grep -q '^1\.\.[0-9]' "$out/$name.tap"; then
		failed=$((failed + 1))
		summary="$summary$name: FAILED (exit $rc, ${secs} s)
"
	else
		summary="$summary$name: ok (${secs} s)
"
	fi
done

echo
echo "# --- figures"
cat "$out"/*.tap | sed -n 's/^# FIGURE //p' | LC_ALL=C sort -s -t '|' -k1,1 |
    awk -F ' [|] ' '
	{ c[NR] = $1; f[NR] = $2; b[NR] = $3; if (length($1) > w) w = length($1) }
	END {
		if (w < 4) w = 4
		printf "%-*s | %s | %s\n", w, "case", "figure", "bound"
		for (i = 1; i <= NR; i++)
			printf "%-*s | %s | %s\n", w, c[i], f[i], b[i]
	}'
echo
printf '%s' "$summary"
echo "# $failed file(s) failed; $(($(date +%s) - start)) s in all"
[ "$failed" -eq 0 ]
