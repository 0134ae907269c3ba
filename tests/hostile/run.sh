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
# shellcheck source-path=SCRIPTDIR/.. source=tap-files.sh
. "$here/../tap-files.sh"

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
tap_file_exec() { "$PYTHON3" "$1"; }
tap_files "$out" "$here"/test_hostile_*.py
tap_figures case 4
tap_summary
