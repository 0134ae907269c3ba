#!/usr/bin/env python3
"""limits.connection_rate / connection_burst: new connections per second
per source.  Sources are loopback addresses bound on the client side."""

import time

import harness
from harness import (Daemon, closed_unanswered, conf, connect_from, diag,
                     recv_exact)


def attempt(src, port, data=b"x\n"):
    """Connect from src, send, return True if answered, False if closed
    unanswered."""
    s = connect_from(src, port, track=False)
    try:
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(100)
            if not b:
                return False
            got += b
        return got == data.upper()
    except (ConnectionResetError, BrokenPipeError):
        return False
    finally:
        s.close()


def test_rate_per_source():
    rate, burst = 10, 5
    d = Daemon(conf(level="info", limits={"connection_rate": rate,
                                          "connection_burst": burst,
                                          "max_connections_per_source": 0}))
    t0 = time.monotonic()
    served = sum(attempt("127.0.0.2", d.port) for _ in range(100))
    took = time.monotonic() - t0
    bound = burst + rate * took + 1
    diag("a loop of 100 connections from 127.0.0.2 in %.2f s: %d served "
         "(bound %.1f)" % (took, served, bound))
    assert burst <= served <= bound, (served, bound)
    # another source is untouched
    other = sum(attempt("127.0.0.3", d.port) for _ in range(burst))
    assert other == burst, other
    d.wait_stderr(r"limits\.connection_rate exceeded by 127\.0\.0\.2")
    # refilled after a while
    time.sleep(0.5)
    assert attempt("127.0.0.2", d.port), "no token after 0.5 s at 10/s"


def test_rate_judges_the_client_behind_a_balancer():
    d = Daemon(conf(level="info", limits={"connection_rate": 1,
                                          "connection_burst": 2},
                    extra='proxy_protocol = { from = [ "127.0.0.1" ]; };'))
    hdr = b"PROXY TCP4 192.0.2.%d 127.0.0.1 5000 8008\r\n"
    # 20 clients, 2 each, all through one balancer address: all served
    served = 0
    for i in range(1, 21):
        for _ in range(2):
            s = connect_from("127.0.0.1", d.port, track=False)
            s.sendall(hdr % (100 + i) + b"y\n")
            try:
                served += recv_exact(s, 2) == b"Y\n"
            except AssertionError:
                pass
            s.close()
    assert served == 40, served
    # one client over its rate is refused
    s = connect_from("127.0.0.1", d.port)
    s.sendall(hdr % 101 + b"z\n")
    assert closed_unanswered(s, timeout=5.0), \
        "a 3rd connection of 192.0.2.101 served"
    d.wait_stderr(r"limits\.connection_rate exceeded by 192\.0\.2\.101")


if __name__ == "__main__":
    harness.run_tests(globals())
