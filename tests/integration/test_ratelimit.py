#!/usr/bin/env python3
"""udp.rate_limit: one source cannot make upcased reflect a flood.

A flood from 127.0.0.2 gets its burst and then its rate answered, no
more; 127.0.0.3 meanwhile is answered in full; STATUS= counts the
rate-limited datagrams and the log says so.  127.0.0.0/8 is all
loopback, so distinct sources need no namespace.
"""

import socket
import time

import harness
from harness import LOCAL4, Daemon, conf, diag, parse_status


def flood(sock, port, n, seconds):
    """Send n datagrams over about `seconds`; count the replies."""
    sock.setblocking(False)
    sent = got = 0
    t0 = time.monotonic()
    while sent < n and time.monotonic() - t0 < seconds + 2:
        try:
            sock.sendto(b"flood %d" % sent, (LOCAL4, port))
            sent += 1
        except BlockingIOError:
            pass
        while True:
            try:
                sock.recv(100)
                got += 1
            except BlockingIOError:
                break
        # pace: n datagrams spread over `seconds`
        ahead = sent / n * seconds - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        try:
            sock.recv(100)
            got += 1
        except BlockingIOError:
            time.sleep(0.01)
    return sent, got, time.monotonic() - t0


def src(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((addr, 0))
    return s


def test_flood_from_one_source_is_limited():
    rate, burst = 200, 100
    d = Daemon(conf(workers=1, extra="", udp_rate=rate)
               .replace("rate_limit = %d;" % rate,
                        "rate_limit = %d; rate_burst = %d;" % (rate, burst)))
    attacker = src("127.0.0.2")
    sent, got, secs = flood(attacker, d.port, 2000, 2.0)
    allowed = burst + rate * secs
    diag("flood: %d sent in %.2f s, %d answered (limit: burst %d + "
         "%d/s = %.0f)" % (sent, secs, got, burst, rate, allowed))
    assert got <= allowed * 1.1 + 5, "limit not held: %d answered" % got
    assert got >= burst, "not even the burst answered: %d" % got
    # another source is not affected
    other = src("127.0.0.3")
    other.settimeout(2)
    for i in range(50):
        other.sendto(b"hello %d" % i, (LOCAL4, d.port))
        assert other.recv(100) == b"HELLO %d" % i
    st = parse_status(harness.status_text(
        d.next_notify(lambda m: (parse_status(m) or {}).get("limited", 0)
                      > 0, 8, "STATUS with rate-limited")[1]))
    diag("STATUS: %d rate-limited" % st["limited"])
    assert st["limited"] >= sent - got - 5, st
    d.wait_stderr("UDP rate limit: [0-9]+ datagrams not answered",
                  timeout=8)


def test_rate_limit_zero_is_off():
    d = Daemon(conf(workers=1, udp_rate=0))
    s = src("127.0.0.4")
    sent, got, secs = flood(s, d.port, 3000, 0.5)
    diag("rate_limit = 0: %d sent, %d answered" % (sent, got))
    assert got >= sent * 0.98, "lost %d of %d" % (sent - got, sent)
    d.wait_stderr(r"notice: udp\.rate_limit = 0: nothing limits", timeout=2)


def test_rate_limit_default_no_notice():
    d = Daemon(conf(workers=1, tcp=None))
    assert d.reload() < 5
    assert "rate_limit = 0" not in d.stderr(), d.stderr_tail()
    d.reload(conf(workers=1, tcp=None, udp_rate=0))
    d.wait_stderr(r"notice: udp\.rate_limit = 0: nothing limits", timeout=2)


if __name__ == "__main__":
    harness.run_tests(globals())
