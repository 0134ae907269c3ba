#!/usr/bin/python3
"""unitwatch.py UNIT SECS OUT - record a unit's state for the system test
(tests/system/run.sh), inside the container.

Polls "systemctl show" every 20 ms or so for at most SECS seconds (at most
120), or until the file OUT.stop exists, and writes to OUT one line per
change: the wall clock time (seconds since the epoch, to the ms), then
ActiveState, SubState, MainPID and StatusText, separated by tabs.  The
caller judges the states seen (the hand-over must never take the unit out
of active/reloading) and reads when the new main process said READY=1
(active/running with the new PID) and what its STATUS= said.

Exit status 0; 1 if systemctl failed; 2 on usage.
"""
import os
import subprocess
import sys
import time

PROPS = ("ActiveState", "SubState", "MainPID", "StatusText")


def show(unit):
    out = subprocess.run(
        ["systemctl", "show", "-p", ",".join(PROPS), unit],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True,
        timeout=10).stdout.decode("utf-8", "replace")
    got = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return tuple(got.get(p, "") for p in PROPS)


def main(argv):
    if len(argv) != 4 or not 0 < float(argv[2]) <= 120:
        sys.stderr.write(__doc__)
        return 2
    unit, secs, out = argv[1], float(argv[2]), argv[3]
    end = time.monotonic() + secs
    last = None
    with open(out, "w") as f:
        while time.monotonic() < end and not os.path.exists(out + ".stop"):
            try:
                now = show(unit)
            except (subprocess.SubprocessError, OSError) as e:
                f.write("%.3f\terror\t%s\n" % (time.time(), e))
                return 1
            if now != last:
                f.write("%.3f\t%s\n" % (time.time(), "\t".join(now)))
                f.flush()
                last = now
            time.sleep(0.02)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
