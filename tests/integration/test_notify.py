#!/usr/bin/env python3
"""sd_notify: READY, STATUS, RELOADING, STOPPING, WATCHDOG."""

import os
import signal
import socket
import time

import harness
from harness import (Daemon, conf, diag, tcp_connect, tcp_echo,
                     udp_exchange, parse_status, status_text, LOCAL4)


def test_ready_is_truthful():
    """At READY=1 every socket already works: no retry needed."""
    d = Daemon(conf(tcp="[ {P0}, {P1} ]", udp="[ {P0}, {P1} ]"), nports=2)
    t_ready = d.t_ready
    for p in d.ports:
        s = socket.create_connection((LOCAL4, p), timeout=2)
        harness.defer(s.close)
        tcp_echo(s, b"right after ready\n")
        assert udp_exchange(p, b"ready") == b"READY"
    diag("time from exec to READY=1: %.1f ms" % d.ready_ms)
    diag("first TCP and UDP answers within %.1f ms of READY=1" %
         ((time.monotonic() - t_ready) * 1000))
    first = d.messages[0][1] if d.messages else None
    assert first is not None and "READY=1" in first.split("\n"), \
        "first notify message is %r, not READY=1" % first


def test_status_periodic_and_changes_with_traffic():
    d = Daemon(conf(workers=2))
    t0 = d.t_ready
    t1, m1 = d.next_notify(lambda m: status_text(m) is not None, 6.5,
                           "STATUS=")
    s1 = status_text(m1)
    diag("first STATUS %.2f s after READY=1: %s" % (t1 - t0, s1))
    assert "connections" in s1, "STATUS text %r" % s1
    # traffic
    c = tcp_connect(d.port)
    tcp_echo(c, b"some traffic for the counters\n")
    c.close()
    udp_exchange(d.port, b"and a datagram")
    t_traffic = time.monotonic()
    t2, m2 = d.next_notify(lambda m: status_text(m) not in (None, s1), 7,
                           "STATUS= with new figures")
    diag("changed STATUS %.2f s after the traffic: %s" %
         (t2 - t_traffic, status_text(m2)))
    # and it keeps coming
    t3, m3 = d.next_notify(lambda m: status_text(m) is not None, 6.5,
                           "another STATUS=")
    diag("STATUS period: %.2f s" % (t3 - t2))


def test_status_format_and_figures():
    d = Daemon(conf(workers=3))
    c = tcp_connect(d.port)
    msg = b"counted bytes\n"       # 14
    tcp_echo(c, msg)
    open_one = tcp_connect(d.port)  # stays open
    tcp_echo(open_one, b"x\n")
    c.close()
    for i in range(4):
        assert udp_exchange(d.port, b"dgram %d" % i) is not None
    dropped_sent = False
    if os.geteuid() == 0:
        for p in range(1023, 600, -1):
            low = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                low.bind((LOCAL4, p))
            except OSError:
                low.close()
                continue
            harness.defer(low.close)
            low.sendto(b"dropped", (LOCAL4, d.port))
            dropped_sent = True
            break
    time.sleep(0.1)

    def good(m):
        f = parse_status(m)
        return f is not None and f["served"] >= 1 and f["datagrams"] >= 4
    seen = []

    def pred(m):
        if status_text(m):
            seen.append(status_text(m))
        return status_text(m) is not None and good(m)
    try:
        _, m = d.next_notify(pred, 8, "STATUS= reflecting the traffic")
    except AssertionError:
        raise AssertionError("no STATUS in the format 'N connections open, "
                             "N served; N bytes in, N out; N datagrams, N "
                             "dropped, N rate-limited; N workers' reflecting 2 connections "
                             "and 4 datagrams; seen: %r" % seen)
    f = parse_status(m)
    diag("%s" % status_text(m))
    problems = []
    if f["open"] != 1:
        problems.append("open = %d, expected 1 (one client still open)" %
                        f["open"])
    if f["served"] < 2:
        problems.append("served = %d, expected >= 2" % f["served"])
    if f["bytes_in"] < len(msg) + 2:
        problems.append("bytes in = %d < %d" % (f["bytes_in"], len(msg) + 2))
    if f["bytes_out"] < len(msg) + 2:
        problems.append("bytes out = %d < %d" % (f["bytes_out"],
                                                 len(msg) + 2))
    if f["datagrams"] < 4:
        problems.append("datagrams = %d < 4" % f["datagrams"])
    if dropped_sent and f["dropped"] < 1:
        problems.append("dropped = %d after a datagram from a port < 1024"
                        % f["dropped"])
    if f["workers"] != 3:
        problems.append("workers = %d, configured 3" % f["workers"])
    assert not problems, "; ".join(problems)


def test_status_workers_zero_is_cpu_count():
    d = Daemon(conf(workers=0))
    _, m = d.next_notify(lambda m: parse_status(m) is not None, 6.5,
                         "STATUS=")
    n = os.sysconf("SC_NPROCESSORS_ONLN")
    f = parse_status(m)
    diag("%s (online CPUs: %d)" % (status_text(m), n))
    assert f["workers"] == n, "workers = 0 gives %d workers, %d CPUs" % (
        f["workers"], n)


def test_reload_notifies_reloading_then_ready():
    d = Daemon(conf())
    for i in range(3):
        t0 = time.monotonic()
        d.signal(signal.SIGHUP)
        t_rel = d.expect_notify("RELOADING=1", 5)
        t_rdy = d.expect_notify("READY=1", 5)
        diag("reload %d: RELOADING=1 after %.1f ms, READY=1 after %.1f ms" %
             (i + 1, (t_rel - t0) * 1000, (t_rdy - t0) * 1000))
        assert t_rel <= t_rdy
    # RELOADING=1 carries MONOTONIC_USEC for Type=notify-reload
    rel = [m for _, m in d.messages if "RELOADING=1" in m.split("\n")]
    diag("a RELOADING message: %r" % rel[-1])
    tcp_echo(tcp_connect(d.port), b"after reloads\n")


def test_stop_notifies_stopping_and_exits_0():
    d = Daemon(conf())
    c = tcp_connect(d.port)
    tcp_echo(c, b"x\n")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    t_stop = d.expect_notify("STOPPING=1", 5)
    rc = d.wait_exit(8)
    diag("STOPPING=1 after %.1f ms, exit %d after %.1f ms" % (
        (t_stop - t0) * 1000, rc, (time.monotonic() - t0) * 1000))
    assert rc == 0, "exit status %d" % rc


def test_watchdog():
    d = Daemon(conf(), env={"WATCHDOG_USEC": "500000"})
    t0 = time.monotonic()
    msgs = d.collect_notify(2.0)
    wd = [m for m in msgs if "WATCHDOG=1" in m.split("\n")]
    diag("%d WATCHDOG=1 in 2 s with WATCHDOG_USEC=500000" % len(wd))
    assert len(wd) >= 3, "only %d WATCHDOG=1 in 2 s: %r" % (len(wd), msgs)
    # keeps going under load and across a reload
    d.reload()
    msgs = d.collect_notify(1.2)
    wd = [m for m in msgs if "WATCHDOG=1" in m.split("\n")]
    assert len(wd) >= 2, "only %d WATCHDOG=1 in 1.2 s after a reload" % len(
        wd)


def test_watchdog_pid_of_another_process():
    """WATCHDOG_PID names another process: the watchdog is not ours."""
    d = Daemon(conf(), env={"WATCHDOG_USEC": "200000",
                            "WATCHDOG_PID": str(os.getpid())})
    msgs = d.collect_notify(1.0)
    wd = [m for m in msgs if "WATCHDOG=1" in m.split("\n")]
    assert not wd, "%d WATCHDOG=1 though WATCHDOG_PID is not the daemon" % (
        len(wd))


def test_no_notify_socket_is_fine():
    """Without NOTIFY_SOCKET the daemon runs as usual."""
    d = Daemon(conf(), notify=False, ready="tcp")
    tcp_echo(tcp_connect(d.port), b"no notify\n")
    d.signal(signal.SIGHUP)
    time.sleep(0.3)
    tcp_echo(tcp_connect(d.port), b"after hup\n")
    assert d.stop() == 0


if __name__ == "__main__":
    harness.run_tests(globals())
