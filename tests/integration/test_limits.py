#!/usr/bin/env python3
"""The descriptor limit: max_connections beyond RLIMIT_NOFILE.

Started under a hard limit too low for max_connections, the daemon must
still start, warn with both numbers and the effective cap, enforce that
cap (connections beyond it are closed at once) and keep serving the
connections it holds.
"""

import re
import socket
import time

import harness
from harness import Daemon, conf, diag, tcp_connect, tcp_echo

NOFILE = 200


def test_fd_limit_caps_connections():
    d = Daemon(conf(workers=1, limits={"max_connections": 5000}),
               argv_prefix=["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE),
                            "--"])
    d.wait_stderr("serving at most", timeout=5.0)
    err = d.stderr()
    m = re.search(r"max_connections = 5000 needs (\d+) file descriptors "
                  r"but the limit is (\d+) .*serving at most (\d+) "
                  r"connections", err)
    assert m, "no fd-limit warning with numbers: %r" % err[-500:]
    cap = int(m.group(3))
    assert int(m.group(2)) == NOFILE, m.group(0)
    assert 0 < cap < NOFILE, m.group(0)
    diag("RLIMIT_NOFILE %d: effective cap %d connections" % (NOFILE, cap))
    held = [tcp_connect(d.port) for _ in range(cap)]
    for i, s in enumerate(held):
        tcp_echo(s, b"held %d\n" % i)
    # Beyond the cap: accepted and closed at once, others unaffected.
    extra = tcp_connect(d.port)
    extra.settimeout(3)
    try:
        data = extra.recv(10)
    except ConnectionResetError:
        data = b""
    assert data == b"", "connection beyond the cap got %r" % data
    for i, s in enumerate(held):
        tcp_echo(s, b"still %d\n" % i)
    d.wait_stderr("max_connections \\(%d\\) reached" % cap, timeout=3.0)
    for s in held:
        s.close()
    assert d.stop() == 0


def test_soft_limit_is_raised():
    # Soft 100, hard 20000: enough room once raised, so no warning.
    d = Daemon(conf(workers=1, limits={"max_connections": 5000}),
               argv_prefix=["prlimit", "--nofile=100:20000", "--"])
    with open("/proc/%d/limits" % d.pid) as f:
        line = [l for l in f if l.startswith("Max open files")][0]
    soft = int(line.split()[3])
    diag("soft RLIMIT_NOFILE after start: %d" % soft)
    assert soft >= 5000, line
    time.sleep(0.2)
    assert "serving at most" not in d.stderr()
    assert d.stop() == 0


if __name__ == "__main__":
    harness.run_tests(globals())
