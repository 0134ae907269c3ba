#!/usr/bin/python3
"""jfilter.py [-u UNIT] [FIELD=VALUE ...] [-o cat|json] < journalctl -o json

Filters journal entries read as JSON lines (journalctl -o json) and prints
them as MESSAGE lines (-o cat, the default) or JSON lines.  -u UNIT keeps
the entries of the unit's processes and systemd's messages about it.

Why not journalctl's own matches: with --after-cursor, journalctl 252
skips the first entry that matches (it assumes the entry after the seek is
the cursor's own), so a match right after the cursor would be lost.
"""
import json
import sys


def main(argv):
    unit, out, want = None, "cat", {}
    args = iter(argv[1:])
    for a in args:
        if a == "-u":
            unit = next(args)
        elif a == "-o":
            out = next(args)
        elif "=" in a:
            k, v = a.split("=", 1)
            want[k] = v
        else:
            sys.exit("jfilter.py: bad argument %r" % a)
    for line in sys.stdin:
        if not line.strip():
            continue
        e = json.loads(line)
        if unit is not None and unit not in (e.get("_SYSTEMD_UNIT"),
                                             e.get("UNIT"),
                                             e.get("OBJECT_SYSTEMD_UNIT")):
            continue
        if any(e.get(k) != v for k, v in want.items()):
            continue
        if out == "json":
            print(json.dumps(e))
        else:
            msg = e.get("MESSAGE")
            if isinstance(msg, list):       # not UTF-8: bytes as numbers
                msg = bytes(msg).decode("utf-8", "replace")
            print(msg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
