#!/usr/bin/env python3
"""Connection abuse: max_connections_per_source and the crowded rule.

Distinct sources are distinct loopback addresses (127.0.0.0/8 is all
ours), bound on the client side before connecting.
"""

import time

import harness
from harness import (Daemon, closed_unanswered, conf, connect_from, diag,
                     expect_eof, tcp_echo)


def test_per_source_limit():
    d = Daemon(conf(limits={"max_connections_per_source": 5}))
    mine = [connect_from("127.0.0.2", d.port) for _ in range(5)]
    for i, s in enumerate(mine):
        tcp_echo(s, b"held %d\n" % i)
    extra = connect_from("127.0.0.2", d.port)
    assert closed_unanswered(extra, timeout=2.0), "a 6th connection from 127.0.0.2 was served"
    # another source is served, and the first five still are
    other = [connect_from("127.0.0.3", d.port) for _ in range(5)]
    for s in other + mine:
        tcp_echo(s, b"still here\n")
    # one closes: room for one more
    mine.pop().close()
    time.sleep(0.2)
    again = connect_from("127.0.0.2", d.port)
    tcp_echo(again, b"room again\n")
    d.wait_stderr("max_connections_per_source reached by 127.0.0.2",
                  timeout=3)


def test_per_source_zero_is_off():
    d = Daemon(conf(limits={"max_connections_per_source": 0,
                            "max_connections": 1000}))
    many = [connect_from("127.0.0.4", d.port) for _ in range(300)]
    for s in many:
        tcp_echo(s, b"x")
    diag("300 connections from one source with the limit off")


def test_crowded_table_evicts_idle_first():
    # 10 at most; 9 open is crowded (90 %): idle > 1 s are closed,
    # though idle_timeout is 300 s; a client that talks stays.
    d = Daemon(conf(workers=1, limits={
        "max_connections": 10, "idle_timeout": 300,
        "crowded_idle_timeout": 1, "max_connections_per_source": 0}))
    talker = connect_from("127.0.0.5", d.port)
    idle = [connect_from("127.0.0.6", d.port) for _ in range(8)]
    for s in idle:
        tcp_echo(s, b"hi\n")
    t0 = time.monotonic()
    closed = 0
    while time.monotonic() - t0 < 4 and closed < len(idle):
        tcp_echo(talker, b"ping\n")
        time.sleep(0.25)
        closed = sum(1 for s in idle if harness.select.select(
            [s], [], [], 0)[0])
    diag("crowded: %d of %d idle connections closed within %.1f s" %
         (closed, len(idle), time.monotonic() - t0))
    for s in idle:
        expect_eof(s, timeout=1, allow_reset=True)
    tcp_echo(talker, b"the talker stays\n")
    # below 90 % again: idle connections are left alone
    calm = connect_from("127.0.0.7", d.port)
    tcp_echo(calm, b"calm\n")
    time.sleep(2.5)
    tcp_echo(calm, b"still open\n")


if __name__ == "__main__":
    harness.run_tests(globals())
