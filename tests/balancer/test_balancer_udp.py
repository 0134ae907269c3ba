#!/usr/bin/env python3
"""UDP through nginx stream (doc/examples/nginx.conf: "listen ... udp",
proxy_responses 1) to the three backends.

nginx relays each datagram from its own address, with one source port
per client session, so every client reaches a backend from the same
address.  The backends declare it in udp.balancers, so their rate limit
keeps one bucket per (nginx's address, source port), that is per
session, instead of one for all.  20 clients, each well under the
backends' udp.rate_limit, must all be answered: every datagram exactly
once, right, and spread over the three backends.

Run by tests/balancer/run.sh inside the client namespace.  Each case
prints "# FIGURE scenario | figure | bound" and asserts its bound.
"""

import select
import socket
import time

import balancer
import harness
from balancer import A, B, C, figure

CLIENTS = 20
RATE_LIMIT = 200          # backends' udp.rate_limit (datagrams/s/source)
BURST = 200               # and udp.rate_burst
PER_CLIENT = 100          # datagrams each client sends ...
CLIENT_RATE = 50          # ... at this rate (a quarter of the limit)


def status_after_reload(d):
    """SIGHUP (which sends a fresh STATUS= once READY); its figures."""
    d.reload()
    _, text = d.next_notify(lambda m: harness.parse_status(m) is not None,
                            5, "STATUS after the reload")
    return harness.parse_status(text)


@harness.timeout(60)
def test_7_udp_through_nginx():
    """20 clients (from addresses A, B, C) each send 100 datagrams at
    50/s through nginx, the backends' rate limit being 200/s per source
    and nginx's address in their udp.balancers:
    every datagram answered exactly once and right; all three backends
    answered some."""
    balancer.in_suite()
    ds = [balancer.backend(i, balancer.backend_conf(
        i, udp_rate=RATE_LIMIT, udp_burst=BURST, level="info",
        udp_balancers=(balancer.LB,)))
        for i in range(3)]
    balancer.balancer("nginx")
    socks = []
    for k in range(CLIENTS):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        harness.defer(s.close)
        s.bind(((A, B, C)[k % 3], 0))
        s.setblocking(False)
        socks.append(s)
    by_fd = {s.fileno(): k for k, s in enumerate(socks)}
    answers = [[0] * PER_CLIENT for _ in range(CLIENTS)]
    wrong = []

    def msg(k, n):
        return b"udp client %02d datagram %05d, one answer please" % (k, n)

    def drain(wait):
        r, _, _ = select.select(socks, [], [], wait)
        for s in r:
            k = by_fd[s.fileno()]
            for _ in range(1000):
                try:
                    data, frm = s.recvfrom(2048)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionRefusedError:
                    wrong.append("client %d: ICMP unreachable" % k)
                    continue
                try:
                    n = int(data.split()[4].rstrip(b","))
                    ok = (frm == (balancer.FRONT, balancer.NG_PLAIN) and
                          data == harness.upper(msg(k, n)))
                except (IndexError, ValueError):
                    ok = False
                if not ok:
                    wrong.append("client %d: %r from %r" % (k, data[:60],
                                                           frm))
                    continue
                answers[k][n] += 1

    t0 = time.monotonic()
    period = 1.0 / CLIENT_RATE
    for n in range(PER_CLIENT):
        t_round = t0 + n * period
        while True:
            left = t_round - time.monotonic()
            if left <= 0:
                break
            drain(left)
        for k, s in enumerate(socks):
            s.sendto(msg(k, n), (balancer.FRONT, balancer.NG_PLAIN))
    t_sent = time.monotonic()
    # the last answers: a second at most
    t_end = t_sent + 1.0
    total = CLIENTS * PER_CLIENT
    while time.monotonic() < t_end and \
            sum(map(sum, answers)) + len(wrong) < total:
        drain(0.05)
    drain(0.1)          # and any duplicate right behind
    once = sum(1 for row in answers for c in row if c == 1)
    missing = sum(1 for row in answers for c in row if c == 0)
    dup = sum(c - 1 for row in answers for c in row if c > 1)
    st = [status_after_reload(d) for d in ds]
    per = [x["datagrams"] for x in st]
    limited = sum(x["limited"] for x in st)
    figure("7 UDP through nginx",
           "%d clients x %d at %d/s: %d/%d answered once, %d missing, %d "
           "twice, %d wrong; per backend %s; %d rate-limited" %
           (CLIENTS, PER_CLIENT, CLIENT_RATE, once, total, missing, dup,
            len(wrong), "/".join(map(str, per)), limited),
           "all once; each backend > 0")
    harness.diag("sending took %.2f s; rate limit %d/s burst %d per source"
                 % (t_sent - t0, RATE_LIMIT, BURST))
    for w in wrong[:10]:
        harness.diag("wrong: " + w)
    assert not wrong
    assert once == total, "%d missing, %d duplicated" % (missing, dup)
    assert min(per) > 0, per


if __name__ == "__main__":
    harness.run_tests(globals())
