#!/usr/bin/env python3
"""access.allow / access.deny: TCP and UDP, at start and on reload.

Sources are loopback addresses (127.0.0.0/8 is all ours), bound on the
client side.
"""

import time

import harness
from harness import (LOCAL4, Daemon, closed_unanswered, conf, connect_from,
                     diag, metric, metrics_scrape, tcp_echo, udp_exchange,
                     udp_socket, wait_for, wait_status)


def access_conf(allow=(), deny=(), level="info", extra=""):
    def lst(xs):
        return "[ %s ]" % ", ".join('"%s"' % x for x in xs)
    return conf(level=level, extra="access = { allow = %s; deny = %s; };%s"
                % (lst(allow), lst(deny), extra))


def test_deny_only():
    d = Daemon(access_conf(deny=["127.0.0.2", "127.0.3.0/24"]))
    for src in ("127.0.0.2", "127.0.3.9"):
        s = connect_from(src, d.port)
        s.sendall(b"hello\n")
        assert closed_unanswered(s), "%s was served" % src
    tcp_echo(connect_from("127.0.0.3", d.port), b"allowed\n")
    d.wait_stderr(r"access rules: connection from 127\.0\.0\.2:\d+ denied")


def test_allow_only():
    d = Daemon(access_conf(allow=["127.0.0.0/30", "127.0.4.0/24"],
                           deny=["127.0.0.2"]))
    tcp_echo(connect_from("127.0.0.1", d.port), b"a\n")
    tcp_echo(connect_from("127.0.4.5", d.port), b"b\n")
    for src in ("127.0.0.2", "127.0.0.9", "127.0.5.1"):
        s = connect_from(src, d.port)
        s.sendall(b"x\n")
        assert closed_unanswered(s), "%s was served" % src
    st = wait_status(d, lambda f: f.get("denied", 0) >= 3)
    assert st["denied"] == 3, st


def test_reload_deny_closes_open_connection():
    d = Daemon(access_conf())
    victim = connect_from("127.0.0.7", d.port)
    tcp_echo(victim, b"before\n")
    other = connect_from("127.0.0.8", d.port)
    tcp_echo(other, b"before\n")
    t0 = time.monotonic()
    d.reload(access_conf(deny=["127.0.0.7"]))
    assert closed_unanswered(victim, timeout=1.5), \
        "the denied source's open connection still open after a reload"
    diag("closed %.2f s after SIGHUP" % (time.monotonic() - t0))
    assert time.monotonic() - t0 < 2.0
    tcp_echo(other, b"after\n")
    s = connect_from("127.0.0.7", d.port)
    assert closed_unanswered(s), "a new connection from 127.0.0.7 served"
    d.stop()
    assert "UPCASED_DENIED=2" in d.stderr(), d.stderr_tail()


def test_reload_deny_counts_a_close_not_a_refusal():
    """A connection served, then closed by a reload's rules, was accepted:
    it counts in connections_closed{denied}, never in refused{denied},
    which is for connections turned away at admission."""
    metrics = 'metrics = { ports = [ {P1} ]; bind = "127.0.0.1"; };\n'
    d = Daemon(access_conf(extra=metrics), nports=2)

    def denied(family):
        return metric(metrics_scrape(d.ports[1])[0],
                      "upcased_connections_%s_total" % family,
                      reason="denied")

    victim = connect_from("127.0.0.7", d.port)
    tcp_echo(victim, b"before\n")
    d.reload(access_conf(deny=["127.0.0.7"], extra=metrics))
    assert closed_unanswered(victim, timeout=1.5), \
        "the denied source's open connection still open after a reload"
    assert wait_for(lambda: denied("closed") == 1, 5), denied("closed")
    assert denied("refused") == 0
    assert metric(metrics_scrape(d.ports[1])[0],
                  "upcased_connections_accepted_total") == 1
    # a new connection from it is a refusal, and only that
    s = connect_from("127.0.0.7", d.port)
    assert closed_unanswered(s), "a new connection from 127.0.0.7 served"
    assert wait_for(lambda: denied("refused") == 1, 5), denied("refused")
    assert denied("closed") == 1
    # STATUS= and the stopped event count both as denied
    d.stop()
    assert "UPCASED_DENIED=2" in d.stderr(), d.stderr_tail()


def test_udp_denied_dropped_and_counted():
    d = Daemon(access_conf(deny=["127.0.0.2"]))
    bad = udp_socket(LOCAL4, bind_host="127.0.0.2")
    good = udp_socket(LOCAL4, bind_host="127.0.0.3")
    for i in range(5):
        assert udp_exchange(d.port, b"no %d" % i, sock=bad,
                            timeout=0.3) is None, "a denied datagram answered"
    assert udp_exchange(d.port, b"yes", sock=good) == b"YES"
    st = wait_status(d, lambda f: f.get("denied", 0) >= 5)
    assert st["denied"] == 5, st
    assert st["dropped"] == 0, st
    d.wait_stderr(r"access rules: datagram from 127\.0\.0\.2:\d+ denied")


if __name__ == "__main__":
    harness.run_tests(globals())
