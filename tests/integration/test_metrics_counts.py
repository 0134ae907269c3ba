#!/usr/bin/env python3
"""/metrics counts exactly: traffic of known size, refusals of every
reason the daemon can be made to give on loopback, reloads applied and
refused, a pool that shrinks; and STATUS= shows the same sums.

Every source is a loopback address of its own (127.0.0.0/8 is ours), so
each limit is met by the client meant to meet it.  out_of_memory is
made by test_faults.py's allocation shim and not here: it must read 0.
"""

import os
import re
import socket
import time

import harness
from harness import (LOCAL4, Daemon, closed_unanswered, conf, connect_from,
                     diag, metric, metrics_scrape, parse_status, recv_exact,
                     status_text, tcp_echo, udp_socket, wait_for)

DENIED = "127.0.0.6"
BALANCER = "127.0.0.7"


def scrape(d):
    """{(name, ((label, value), ...)): float} of a GET /metrics."""
    return metrics_scrape(d.ports[1])[0]


def scrape_settled(d, want, timeout=5.0):
    """A worker counts a reply's bytes after its send(), so a client can
    hold a reply before the counters show it.  Scrape until every sample
    in want has its value, or timeout: the last scrape, for the caller
    to assert on."""
    last = {}

    def settled():
        last.update(scrape(d))
        return all(last.get(k) == v for k, v in want.items())
    wait_for(settled, timeout)
    return last


REFUSED = ("max_connections", "per_source", "out_of_memory",
           "connection_rate", "denied", "proxy_header")
DROPPED = ("loop_guard", "rate_limited", "denied")


def counters(m):
    """Every counter sample (name ends in _total, _count, _sum, _bucket)."""
    return {k: v for k, v in m.items()
            if re.search(r"_(total|count|sum|bucket)$", k[0])}


def metrics_conf(workers=2, limits=None, udp_rate=1000, udp_burst=1000):
    text = conf(workers=workers, udp_rate=udp_rate, limits=limits or {
        "max_connections": 8, "max_connections_per_source": 4},
        extra=('metrics = { ports = [ {P1} ]; bind = "127.0.0.1"; };\n'
               'access = { deny = [ "%s" ]; };\n'
               'proxy_protocol = { from = [ "%s" ]; };\n'
               % (DENIED, BALANCER)))
    return text.replace("rate_limit = %d;" % udp_rate,
                        "rate_limit = %d; rate_burst = %d;" %
                        (udp_rate, udp_burst))


def wait_counter(d, name, want, timeout=5.0, **labels):
    """Counters are read from the workers without a lock: wait until the
    last one of a burst is in."""
    ok = wait_for(lambda: metric(scrape(d), name, **labels) >= want, timeout)
    return ok


def test_exact_counts():
    d = Daemon(metrics_conf(), nports=2)
    m0 = scrape(d)
    for r in REFUSED:
        assert metric(m0, "upcased_connections_refused_total", reason=r) == 0
    for r in DROPPED:
        assert metric(m0, "upcased_datagrams_dropped_total", reason=r) == 0
    assert metric(m0, "upcased_connections_accepted_total") == 0
    assert metric(m0, "upcased_workers") == 2

    # 10 served connections of known sizes (each from its own address,
    # so a close still under way never meets the per-source cap), 3 kept
    sent = 0
    kept = []
    for i in range(10):
        s = connect_from("127.0.1.%d" % i, d.port)
        data = b"x" * (100 * (i + 1)) + b"\n"
        tcp_echo(s, data)
        sent += len(data)
        if i < 3:
            kept.append(s)
        else:
            s.close()
    # per source: 127.0.0.2 holds 4 (with the 3 above: 7 open), a 5th
    # is refused
    held = [connect_from("127.0.0.2", d.port) for _ in range(4)]
    for s in held:
        tcp_echo(s, b"held\n")
        sent += 5
    # (once the workers have seen the 7 closes: a close is asynchronous,
    # and with one still counted the 5th would meet max_connections first)
    assert wait_for(lambda: metric(scrape(d), "upcased_connections_open")
                    == 7, 5), "7 connections open"
    extra = connect_from("127.0.0.2", d.port)
    assert closed_unanswered(extra), "a 5th connection from 127.0.0.2"
    # max_connections = 8: one more from 127.0.0.3 fits, the next not
    last = connect_from("127.0.0.3", d.port)
    tcp_echo(last, b"eighth\n")
    sent += 7
    full = connect_from("127.0.0.4", d.port)
    assert closed_unanswered(full), "a 9th connection was served"
    last.close()
    # (the balancer's connection below meets the cap at accept: let the
    # worker see the close first)
    assert wait_for(lambda: metric(scrape(d), "upcased_connections_open")
                    == 7, 5), "7 connections open"
    # denied, and a trusted balancer without a PROXY header
    s = connect_from(DENIED, d.port)
    s.sendall(b"no\n")
    assert closed_unanswered(s), "a denied source was served"
    s = connect_from(BALANCER, d.port)
    s.sendall(b"not a header\r\n")
    assert closed_unanswered(s), "a bad PROXY header was served"

    # UDP: 12 datagrams answered, 1 denied
    u = udp_socket()
    u.settimeout(2)
    udp_sent = 0
    for i in range(12):
        data = b"dgram %d" % i
        u.sendto(data, (LOCAL4, d.port))
        assert u.recvfrom(2048)[0] == data.upper()
        udp_sent += len(data)
    ud = udp_socket(bind_host=DENIED)
    ud.sendto(b"denied", (LOCAL4, d.port))
    if os.geteuid() == 0:
        # the loop guard: a source port below 1024
        low = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        low.bind(("127.0.0.1", 1007))
        low.sendto(b"echo service", (LOCAL4, d.port))
        low.close()
        loop = 1
    else:
        diag("not root: no source port below 1024, loop guard not made")
        loop = 0

    for s in kept + held:
        tcp_echo(s, b"!\n")
        sent += 2
    assert wait_counter(d, "upcased_datagrams_dropped_total", 1,
                        reason="denied")
    # 7 of the 10 and the eighth closed: in the histogram once served
    assert wait_counter(d, "upcased_connection_duration_seconds_count", 8)
    want = {
        ("upcased_connections_accepted_total", ()): 15,
        ("upcased_connections_open", ()): 7,
        ("upcased_received_bytes_total", (("protocol", "tcp"),)): sent,
        ("upcased_sent_bytes_total", (("protocol", "tcp"),)): sent,
        ("upcased_received_bytes_total", (("protocol", "udp"),)):
            udp_sent + len(b"denied") + (len(b"echo service") * loop),
        ("upcased_sent_bytes_total", (("protocol", "udp"),)): udp_sent,
        ("upcased_datagrams_received_total", ()): 12 + 1 + loop,
    }
    refused = (("per_source", 1), ("max_connections", 1), ("denied", 1),
               ("proxy_header", 1), ("out_of_memory", 0),
               ("connection_rate", 0))
    dropped = (("denied", 1), ("loop_guard", loop), ("rate_limited", 0))
    settle = dict(want)
    settle.update({("upcased_connections_refused_total",
                    (("reason", r),)): n for r, n in refused})
    settle.update({("upcased_datagrams_dropped_total",
                    (("reason", r),)): n for r, n in dropped})
    settle[("upcased_connection_duration_seconds_count", ())] = 8
    m = scrape_settled(d, settle)
    for (name, labels), v in want.items():
        assert m[(name, labels)] == v, "%s%r: %s, want %s" % (
            name, labels, m[(name, labels)], v)
    for reason, n in refused:
        got = metric(m, "upcased_connections_refused_total", reason=reason)
        assert got == n, "refused %s: %s, want %d" % (reason, got, n)
    for reason, n in dropped:
        got = metric(m, "upcased_datagrams_dropped_total", reason=reason)
        assert got == n, "dropped %s: %s, want %d" % (reason, got, n)
    # the histogram counts the 8 served connections that closed
    count = metric(m, "upcased_connection_duration_seconds_count")
    assert count == 8, "duration count %s, want 8" % count
    assert metric(m, "upcased_connection_duration_seconds_bucket",
                  le="+Inf") == count
    # STATUS= adds up the same counters
    _, msg = d.next_notify(
        lambda t: status_text(t) is not None and
        parse_status(t)["served"] == 15, 5, "STATUS= with 15 served")
    st = parse_status(msg)
    assert st["open"] == 7 and st["refused"] == 2, st
    assert st["denied"] == 2 and st["proxy_errors"] == 1, st
    assert st["bytes_in"] == sent + want[
        ("upcased_received_bytes_total", (("protocol", "udp"),))], st
    for s in kept + held:
        s.close()


def test_rate_and_reloads_and_shrink():
    d = Daemon(metrics_conf(workers=3, udp_rate=20, udp_burst=5, limits={
        "connection_rate": 1, "connection_burst": 3}), nports=2)
    # 6 quick connections from one source: 3 in the burst, 3 over it
    served = 0
    for i in range(6):
        s = connect_from("127.0.0.9", d.port)
        s.sendall(b"hi\n")
        s.settimeout(3)
        try:
            got = s.recv(10)
        except ConnectionResetError:
            got = b""
        served += got == b"HI\n"
        s.close()
    assert served == 3, "%d of 6 served (rate 1/s, burst 3)" % served
    m = scrape(d)
    assert metric(m, "upcased_connections_refused_total",
                  reason="connection_rate") == 3
    assert metric(m, "upcased_connections_accepted_total") == 3
    # UDP over its rate: answered + rate-limited = sent
    u = udp_socket(bind_host="127.0.0.10")
    for i in range(60):
        u.sendto(b"flood %d" % i, (LOCAL4, d.port))
    wait_for(lambda: metric(scrape(d), "upcased_datagrams_received_total")
                            >= 60, 3)
    m = scrape(d)
    limited = metric(m, "upcased_datagrams_dropped_total",
                     reason="rate_limited")
    answered = metric(m, "upcased_datagrams_sent_total")
    assert metric(m, "upcased_datagrams_received_total") == 60
    assert limited > 0 and answered + limited == 60, (answered, limited)

    # a refused and an applied reload
    good = d.config_template
    d.reload("workers = 2;\nbogus = 1;\n" + good)
    d.reload(good.replace("workers = 3;", "workers = 1;"))
    wait_for(lambda: metric(scrape(d), "upcased_workers") == 1, 3)
    m = scrape(d)
    assert metric(m, "upcased_reloads_total", result="refused") == 1
    assert metric(m, "upcased_reloads_total", result="applied") == 1
    assert metric(m, "upcased_workers") == 1
    # the two retired workers' counts survive them
    before_shrink = m
    assert metric(m, "upcased_connections_refused_total",
                  reason="connection_rate") == 3
    assert metric(m, "upcased_connections_accepted_total") == 3
    assert metric(m, "upcased_datagrams_received_total") == 60
    assert metric(m, "upcased_datagrams_dropped_total",
                  reason="rate_limited") == limited
    # and nothing ever goes backwards, reload after reload
    prev = counters(before_shrink)
    for w in (2, 1, 3, 1):
        d.reload(good.replace("workers = 3;", "workers = %d;" % w))
        now = counters(scrape(d))
        for k, v in prev.items():
            assert now.get(k, -1) >= v, "%r went from %s to %s" % (
                k, v, now.get(k))
        prev = now


def test_pending_output():
    d = Daemon(metrics_conf(workers=1), nports=2)
    # A small receive buffer, set before connecting (shrinking it on an
    # open connection can leave the window stuck for a while).
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.connect((LOCAL4, d.port))
    blob = b"a" * (16 << 20)
    s.setblocking(False)
    off = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and off < len(blob):
        try:
            off += s.send(blob[off:off + 65536])
        except BlockingIOError:
            if wait_for(lambda: metric(
                    scrape(d), "upcased_pending_output_bytes") > 0, 0.5):
                break
    pending = metric(scrape(d), "upcased_pending_output_bytes")
    assert pending > 0, "nothing pending after %d bytes unread" % off
    diag("%d bytes sent unread: %d pending" % (off, pending))
    s.setblocking(True)
    got = recv_exact(s, off, timeout=20)
    assert got == blob[:off].upper()
    assert wait_for(lambda: metric(scrape(d), "upcased_pending_output_bytes")
                    == 0, 3), "pending output left after the client read all"


if __name__ == "__main__":
    harness.run_tests(globals())
