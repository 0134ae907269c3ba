#!/usr/bin/env python3
"""The real client behind the real balancers: PROXY protocol v2 and v1
from HAProxy, v1 from nginx; the per-source limit and the access rules
judged on the client, not on the balancer.

The backends trust the balancer (proxy_protocol.from = [ "10.77.2.1" ])
and listen on port 7001, where every connection from it carries a
header, health checks included (check-send-proxy: a v2 LOCAL header, or
a v1 line).  Each case skips with "daemon without proxy_protocol" if
the daemon refuses the setting.

Run by tests/balancer/run.sh inside the client namespace.  Each case
prints "# FIGURE scenario | figure | bound" and asserts its bound.
"""

import select
import socket
import time

import balancer
import harness
from balancer import A, B, LB, figure

SESSIONS = 30


def line(tag, n):
    # 40 bytes: told apart from health checks in the debug log
    return (b"%s session %05d via the balancer........" % (tag, n))[:39] \
        + b"\n"


def pp_backends(limits=None, extra="", what="proxy_protocol"):
    balancer.need_setting(balancer.pp_conf(0, limits=limits, extra=extra),
                          what)
    return [balancer.backend(i, balancer.pp_conf(i, limits=limits,
                                                 extra=extra))
            for i in range(3)]


def through(ds, port, kind, case):
    """SESSIONS short sessions from A through port: all answered, every
    backend's debug log names A for them, none names the balancer."""
    if kind == "haproxy":
        ha = balancer.balancer("haproxy")
        t = balancer.wait_backends_up(ha, port)
        harness.diag("haproxy: all three UP (checks with a PROXY header) "
                     "%.2f s after the backends started" % t)
    else:
        balancer.balancer("nginx")
    errors = [e for e in (balancer.session(A, port, line(b"a", n))
                          for n in range(SESSIONS)) if e]
    rows_a = [balancer.closed_sessions(d, peer=A, bytes_out=40) for d in ds]
    per_a = [len(r) for r in rows_a]
    via_lb = sum(1 for rows in rows_a for r in rows if r[5] == LB)
    per_lb = [len(balancer.closed_sessions(d, peer=LB, bytes_out=40))
              for d in ds]
    # HAProxy's health checks: "haproxy check\n" answered, 14 bytes, in
    # the balancer's own name (a v2 LOCAL header, or v1 with its address)
    checks = [len(balancer.closed_sessions(d, peer=LB, bytes_out=14))
              for d in ds]
    figure(case, "%d/%d answered; debug log names the client: %s (%d of "
           "them via the balancer), the balancer as client: %d%s" %
           (SESSIONS - len(errors), SESSIONS, "/".join(map(str, per_a)),
            via_lb, sum(per_lb),
            "; health checks answered %s" % "/".join(map(str, checks))
            if kind == "haproxy" else ""),
           "all; the client on every backend, via the balancer; "
           "balancer as client 0%s" % ("; checks answered on each"
                                       if kind == "haproxy" else ""))
    assert not errors, errors[:5]
    assert sum(per_a) == SESSIONS and min(per_a) > 0, per_a
    assert via_lb == SESSIONS, "UPCASED_PROXY/via missing: %d" % via_lb
    assert sum(per_lb) == 0, per_lb
    if kind == "haproxy":
        assert min(checks) > 0, checks


@harness.timeout(40)
def test_1_haproxy_proxy_v2():
    """HAProxy send-proxy-v2 with check, check-send-proxy and tcp-check:
    every backend serves, and logs the client's address."""
    balancer.in_suite()
    ds = pp_backends()
    through(ds, balancer.HA_PP2, "haproxy", "1 haproxy send-proxy-v2")


@harness.timeout(40)
def test_2a_haproxy_proxy_v1():
    """HAProxy send-proxy (v1): the same."""
    balancer.in_suite()
    ds = pp_backends()
    through(ds, balancer.HA_PP1, "haproxy", "2a haproxy send-proxy v1")


@harness.timeout(40)
def test_2b_nginx_proxy_protocol():
    """nginx stream with proxy_protocol on (v1): the same."""
    balancer.in_suite()
    ds = pp_backends()
    through(ds, balancer.NG_PP, "nginx", "2b nginx proxy_protocol on")


def answered(socks, payload, timeout):
    """Send payload on each socket, then wait for each to answer it or be
    closed.  Returns (answered, closed, silent) lists."""
    for s in socks:
        try:
            s.sendall(payload)
        except OSError:
            pass
    ok, closed = [], []
    pending = {s.fileno(): (s, bytearray()) for s in socks}
    t_end = time.monotonic() + timeout
    while pending and time.monotonic() < t_end:
        p = select.poll()
        for fd in pending:
            p.register(fd, select.POLLIN)
        for fd, _ in p.poll(100):
            s, buf = pending[fd]
            try:
                chunk = s.recv(4096, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if chunk:
                buf += chunk
                if len(buf) >= len(payload):
                    harness.check_bytes(bytes(buf), harness.upper(payload))
                    ok.append(s)
                    del pending[fd]
            else:
                closed.append(s)
                del pending[fd]
    return ok, closed, [s for s, _ in pending.values()]


@harness.timeout(60)
def test_3_per_source_limit_through_haproxy():
    """max_connections_per_source 20 on each backend: client A holds 300
    connections through HAProxy (PROXY v2): 20 per backend served, the
    rest closed; then client B, 30 connections: all served."""
    balancer.in_suite()
    ds = pp_backends(limits={"max_connections_per_source": 20})
    ha = balancer.balancer("haproxy")
    balancer.wait_backends_up(ha, balancer.HA_PP2)
    socks_a = []
    harness.defer(lambda: [s.close() for s in socks_a])
    for _ in range(300):
        socks_a.append(balancer.connect_from(A, balancer.HA_PP2))
    ok_a, closed_a, silent_a = answered(socks_a, line(b"a", 0), 10)
    socks_b = []
    harness.defer(lambda: [s.close() for s in socks_b])
    for _ in range(30):
        socks_b.append(balancer.connect_from(B, balancer.HA_PP2))
    ok_b, closed_b, silent_b = answered(socks_b, line(b"b", 0), 10)
    for s in socks_a + socks_b:
        s.close()
    # per backend: A's connections that got an answer (the debug log)
    time.sleep(0.5)
    per_a = [sum(1 for r in balancer.closed_sessions(d, peer=A)
                 if r[4] > 0) for d in ds]
    figure("3 per-source limit via haproxy",
           "A: %d of 300 served (per backend %s), %d closed, %d silent; "
           "B: %d of 30 served" %
           (len(ok_a), "/".join(map(str, per_a)), len(closed_a),
            len(silent_a), len(ok_b)),
           "A: 20 per backend, the rest closed; B: all")
    assert per_a == [20, 20, 20], per_a
    assert len(ok_a) == 60 and len(closed_a) == 240, (len(ok_a),
                                                      len(closed_a))
    assert len(ok_b) == 30, (len(ok_b), len(closed_b), len(silent_b))


@harness.timeout(40)
def test_4_access_rules_through_haproxy():
    """access.deny = [ A ] on each backend: A's sessions through HAProxy
    (PROXY v2) are closed with nothing answered, B's are all served."""
    balancer.in_suite()
    ds = pp_backends(extra='access = { deny = [ "%s" ]; };' % A,
                     what="proxy_protocol or access")
    ha = balancer.balancer("haproxy")
    balancer.wait_backends_up(ha, balancer.HA_PP2)
    res_a = [balancer.session(A, balancer.HA_PP2, line(b"a", n))
             for n in range(SESSIONS)]
    res_b = [balancer.session(B, balancer.HA_PP2, line(b"b", n))
             for n in range(SESSIONS)]
    a_nothing = sum(1 for e in res_a if e and (
        e.startswith("closed after 0 of") or e.startswith("reset after 0 of")))
    b_ok = sum(1 for e in res_b if e is None)
    per_b = [len(balancer.closed_sessions(d, peer=B, bytes_out=40))
             for d in ds]
    figure("4 access rules via haproxy",
           "A (denied): %d of %d closed with nothing answered; B: %d of %d "
           "served (per backend %s)" % (a_nothing, SESSIONS, b_ok, SESSIONS,
                                        "/".join(map(str, per_b))),
           "A: all refused; B: all served")
    harness.diag("A's results: %r" % sorted(set(map(str, res_a))))
    assert a_nothing == SESSIONS, res_a[:5]
    assert b_ok == SESSIONS, [e for e in res_b if e][:5]


if __name__ == "__main__":
    harness.run_tests(globals())
