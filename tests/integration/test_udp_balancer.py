#!/usr/bin/env python3
"""udp.balancers: UDP behind a balancer that relays with no header.

nginx `stream` relays each client's datagrams from its own address, with
one source port per client session.  Here 127.0.0.2 plays the balancer:
20 sessions (20 sockets, each its own source port) each send fewer
datagrams than the burst.  Declared in udp.balancers, every datagram is
answered (one bucket per session); not declared, they share the
address's bucket and most are throttled.  The access rules still judge
the balancer's address.  127.0.0.0/8 is all loopback: no namespace.
"""

import select
import socket
import time

import harness
from harness import LOCAL4, Daemon, conf, diag

RATE, BURST = 50, 20
SESSIONS, EACH = 20, 10         # each session well under the burst


def lb_conf(balancers=(), extra=""):
    lst = "[ %s ]" % ", ".join('"%s"' % b for b in balancers)
    return (conf(workers=1, udp_rate=RATE, extra=extra)
            .replace("rate_limit = %d;" % RATE,
                     "rate_limit = %d; rate_burst = %d; balancers = %s;"
                     % (RATE, BURST, lst)))


def sessions(port, src="127.0.0.2"):
    """SESSIONS sockets from src, EACH datagrams each; replies per one."""
    socks = []
    for _ in range(SESSIONS):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setblocking(False)
        socks.append(s)
    assert len({s.getsockname()[1] for s in socks}) == SESSIONS
    t0 = time.monotonic()
    for i in range(EACH):
        for k, s in enumerate(socks):
            s.sendto(b"session %d datagram %d" % (k, i), (LOCAL4, port))
    secs = time.monotonic() - t0
    got = [0] * SESSIONS
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        ready, _, _ = select.select(socks, [], [], 0.1)
        for s in ready:
            k = socks.index(s)
            while True:
                try:
                    data = s.recv(100)
                except BlockingIOError:
                    break
                assert data.startswith(b"SESSION %d DATAGRAM " % k), data
                got[k] += 1
    for s in socks:
        s.close()
    return got, secs


def test_declared_balancer_sessions_each_answered():
    d = Daemon(lb_conf(["127.0.0.2"]))
    got, secs = sessions(d.port)
    diag("balancer declared: %d of %d answered in %.3f s, per session %s"
         % (sum(got), SESSIONS * EACH, secs, got))
    assert got == [EACH] * SESSIONS, got


def test_undeclared_balancer_throttled_together():
    # declared: another address, and a prefix that does not hold it
    d = Daemon(lb_conf(["127.0.0.3", "10.0.0.0/8"]))
    got, secs = sessions(d.port)
    bound = BURST + RATE * (secs + 1.0) + 2
    diag("balancer not declared: %d of %d answered in %.3f s (bound %.0f)"
         % (sum(got), SESSIONS * EACH, secs, bound))
    assert sum(got) >= BURST, got
    assert sum(got) <= bound, got
    # the declared one beside it is answered in full
    got3, _ = sessions(d.port, "127.0.0.3")
    assert got3 == [EACH] * SESSIONS, got3


def test_reload_declares_the_balancer():
    d = Daemon(lb_conf([]))
    got, _ = sessions(d.port)
    assert sum(got) < SESSIONS * EACH // 2, got
    d.reload(lb_conf(["127.0.0.0/30"]))
    # a fresh address: its sessions have fresh buckets
    got, _ = sessions(d.port, "127.0.0.1")
    diag("after reload: %d of %d answered" % (sum(got), SESSIONS * EACH))
    assert got == [EACH] * SESSIONS, got


def test_access_rules_judge_the_balancer():
    d = Daemon(lb_conf(["127.0.0.2"],
                       extra='access = { deny = [ "127.0.0.2" ]; };'))
    got, _ = sessions(d.port)
    assert sum(got) == 0, got
    got, _ = sessions(d.port, "127.0.0.4")
    assert sum(got) >= BURST, got


if __name__ == "__main__":
    harness.run_tests(globals())
