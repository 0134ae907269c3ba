#!/usr/bin/env python3
"""The metrics endpoint: GET/HEAD /metrics, 404, 405, OpenMetrics, promtool,
its port across reloads, socket activation by name, and a slowloris that
must delay neither echo traffic nor WATCHDOG=1.  (The exact value of each
counter after known traffic is test_counters.py's business.)"""

import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time

import harness
from harness import (LOCAL4, Daemon, conf, diag, metric, tcp_connect,
                     tcp_echo, tcp_refused, wait_for)
from harness import http_get as get
from harness import metrics_scrape as scrape

TEXT = harness.METRICS_TEXT
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
SSA = shutil.which("systemd-socket-activate") or \
    "/usr/bin/systemd-socket-activate"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

def mconf(metrics="[ {P1} ]", extra="", **kw):
    """Echo on P0, the endpoint on P1 (by default)."""
    return conf(extra=("metrics = { ports = %s; bind = \"127.0.0.1\"; };\n"
                       % metrics) + extra, **kw)


def test_scrape():
    d = Daemon(mconf(), nports=2)
    t0 = time.time()
    samples, types = scrape(d.ports[1])
    for name, typ in [("upcased_build_info", "gauge"),
                      ("upcased_start_time_seconds", "gauge"),
                      ("upcased_workers", "gauge"),
                      ("upcased_max_connections", "gauge"),
                      ("upcased_connections_open", "gauge"),
                      ("upcased_connections_accepted_total", "counter"),
                      ("upcased_connections_refused_total", "counter"),
                      ("upcased_connections_closed_total", "counter"),
                      ("upcased_received_bytes_total", "counter"),
                      ("upcased_sent_bytes_total", "counter"),
                      ("upcased_datagrams_received_total", "counter"),
                      ("upcased_datagrams_sent_total", "counter"),
                      ("upcased_datagrams_dropped_total", "counter"),
                      ("upcased_reloads_total", "counter"),
                      ("upcased_pending_output_bytes", "gauge"),
                      ("upcased_connection_duration_seconds", "histogram")]:
        assert types.get(name) == typ, "%s: %r" % (name, types.get(name))
    assert len(types) == 16, sorted(types)
    assert [v for (name, labels), v in samples.items()
            if name == "upcased_build_info" and labels and
            labels[0][0] == "version"] == [1], "no build_info"
    assert metric(samples, "upcased_workers") == 2
    assert metric(samples, "upcased_max_connections") == 10000
    start = metric(samples, "upcased_start_time_seconds")
    assert t0 - 30 < start <= t0 + 1, "start time %f, now %f" % (start, t0)
    for r in ("max_connections", "per_source", "connection_rate",
              "out_of_memory", "denied", "proxy_header", "lame_duck"):
        assert metric(samples, "upcased_connections_refused_total",
                      reason=r) == 0, r
    assert metric(samples, "upcased_connections_closed_total",
                  reason="denied") == 0
    for r in ("loop_guard", "rate_limited", "denied", "truncated",
              "send_failed"):
        assert metric(samples, "upcased_datagrams_dropped_total",
                      reason=r) == 0, r
    assert metric(samples, "upcased_reloads_total", result="applied") == 0
    # Traffic shows: one connection, 11 bytes each way.
    s = tcp_connect(d.port)
    tcp_echo(s, b"hello world")
    s.close()
    assert wait_for(lambda: scrape(d.ports[1])[0].get(
        ("upcased_connection_duration_seconds_count", ())) == 1, 5)
    samples, _ = scrape(d.ports[1])
    assert metric(samples, "upcased_connections_accepted_total") == 1
    assert metric(samples, "upcased_received_bytes_total",
                  protocol="tcp") == 11
    assert metric(samples, "upcased_sent_bytes_total", protocol="tcp") == 11
    assert metric(samples, "upcased_connection_duration_seconds_bucket",
                  le="+Inf") == 1
    assert metric(samples, "upcased_connections_open") == 0


def test_promtool_check_metrics():
    if not os.access(PROMTOOL, os.X_OK):
        raise harness.Skip("promtool not installed")
    d = Daemon(mconf(), nports=2)
    tcp_echo(tcp_connect(d.port), b"some traffic\n")
    status, _, body = get(d.ports[1])
    assert status == 200
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body,
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and not r.stdout.strip() and \
        not r.stderr.strip(), "promtool: %d %r %r" % (
            r.returncode, r.stdout, r.stderr)


def test_not_found_and_methods():
    d = Daemon(mconf(), nports=2)
    for path in ("/foo", "/", "/metrics/", "/metricsx"):
        status, hdrs, body = get(d.ports[1], path)
        assert status == 404, "%s: %d" % (path, status)
        assert b"upcased_" not in body
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        status, hdrs, body = get(d.ports[1], method=method)
        assert status == 405, "%s: %d" % (method, status)
        assert hdrs.get("allow") == "GET, HEAD", hdrs
    # A POST with a body too (not read: the connection is closed after).
    status, hdrs, _ = get(d.ports[1], method="POST",
                           headers={"Content-Length": "5"})
    assert status in (405,), status
    # A query string is not part of the path.
    assert get(d.ports[1], "/metrics?x=1")[0] == 200


def test_head():
    d = Daemon(mconf(), nports=2)
    c = http.client.HTTPConnection(LOCAL4, d.ports[1], timeout=5)
    c.request("HEAD", "/metrics")
    r = c.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Type") == TEXT
    length = int(r.getheader("Content-Length"))
    assert length > 1000, length
    assert r.read() == b""
    c.close()
    # Nothing follows the headers on the wire either.
    s = tcp_connect(d.ports[1])
    s.sendall(b"HEAD /metrics HTTP/1.0\r\n\r\n")
    raw = harness.recv_until_eof(s, timeout=5)
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head, head
    assert rest == b"", "body after HEAD: %r" % rest[:80]


def test_openmetrics():
    d = Daemon(mconf(), nports=2)
    # What Prometheus sends.
    accept = ("application/openmetrics-text;version=1.0.0,"
              "application/openmetrics-text;version=0.0.1;q=0.75,"
              "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    status, hdrs, body = get(d.ports[1], headers={"Accept": accept})
    assert status == 200
    assert hdrs["content-type"] == OPENMETRICS, hdrs
    assert body.endswith(b"\n# EOF\n"), body[-40:]
    assert b"# TYPE upcased_connections_accepted counter\n" in body
    assert b"\nupcased_connections_accepted_total 0\n" in body
    status, hdrs, _ = get(d.ports[1], headers={"Accept": "text/plain"})
    assert hdrs["content-type"] == TEXT


def test_reload_moves_port():
    d = Daemon(mconf(), nports=3)
    assert metric(scrape(d.ports[1])[0], "upcased_workers") == 2
    # A connection open across the reload keeps being served.
    keep = http.client.HTTPConnection(LOCAL4, d.ports[1], timeout=5)
    keep.request("GET", "/metrics")
    r = keep.getresponse()
    r.read()
    d.reload(mconf(metrics="[ {P2} ]", workers=3))
    samples, _ = scrape(d.ports[2])
    assert metric(samples, "upcased_workers") == 3
    assert metric(samples, "upcased_reloads_total", result="applied") == 1
    assert tcp_refused(d.ports[1]), "old metrics port still accepts"
    assert not harness.tcp_listening(d.ports[1])
    if not r.will_close:
        keep.request("GET", "/metrics")
        r = keep.getresponse()
        assert r.status == 200 and b"upcased_workers 3\n" in r.read()
    keep.close()
    # And off: no endpoint at all.
    d.reload(mconf(metrics="[ ]"))
    assert tcp_refused(d.ports[2])
    tcp_echo(tcp_connect(d.port), b"still echoing\n")


def test_reload_refused_keeps_endpoint():
    d = Daemon(mconf(), nports=3)
    # A config error: the endpoint on the echo port.
    d.reload(mconf(metrics="[ {P0} ]"))
    d.wait_stderr(r"reload refused.*metrics\.ports: port %d is also a TCP "
                  r"echo port" % d.port)
    samples, _ = scrape(d.ports[1])
    assert metric(samples, "upcased_reloads_total", result="refused") == 1
    # A bind failure: the new port is taken.
    taker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taker.bind((LOCAL4, d.ports[2]))
    taker.listen(1)
    d.reload(mconf(metrics="[ {P2} ]"))
    d.wait_stderr(r"reload refused.*metrics 127\.0\.0\.1:%d" % d.ports[2])
    taker.close()
    samples, _ = scrape(d.ports[1])
    assert metric(samples, "upcased_reloads_total", result="refused") == 2
    assert metric(samples, "upcased_reloads_total", result="applied") == 0
    tcp_echo(tcp_connect(d.port), b"echo unchanged\n")


def test_check_config():
    d = Daemon(mconf(metrics="[ {P0} ]"), nports=2, start=False)
    d.ports = harness.alloc_ports(2)
    d.write_config()
    r = harness.run_bin(["--check-config", "-c", d.conf_path])
    assert r.returncode == harness.EX_CONFIG, r
    assert re.search(r"%s:\d+: metrics\.ports: port %d is also a TCP echo "
                     r"port on 127\.0\.0\.1" % (re.escape(d.conf_path),
                                                d.ports[0]), r.stderr), \
        r.stderr
    d.write_config(mconf())
    r = harness.run_bin(["--check-config", "-c", d.conf_path])
    assert r.returncode == 0, r
    assert "metrics = {\n\tports = [ %d ];\n\tbind = [ \"127.0.0.1\" ];" \
        % d.ports[1] in r.stdout, r.stdout


def test_socket_activation_by_name():
    if not os.access(SSA, os.X_OK):
        raise harness.Skip("systemd-socket-activate not installed")
    # The file's ports ({P2}, {P3}) must stay unused.
    d = Daemon(mconf(metrics="[ {P3} ]", tcp="[ {P2} ]", udp="[ {P2} ]"),
               nports=4, ready=None,
               argv_prefix=[SSA, "-l", "127.0.0.1:{P0}",
                            "-l", "127.0.0.1:{P1}", "--fdname=tcp:metrics",
                            "-E", "NOTIFY_SOCKET={NOTIFY}"])
    assert wait_for(lambda: harness.tcp_listening(d.ports[1]), 5)
    s = tcp_connect(d.port)     # starts the daemon
    tcp_echo(s, b"activated\n", timeout=10)
    d.expect_notify("READY=1", 5)
    samples, _ = scrape(d.ports[1])
    assert metric(samples, "upcased_connections_accepted_total") == 1
    d.wait_stderr(r"listening on metrics 127\.0\.0\.1:%d \(socket "
                  r"activation\)" % d.ports[1])
    # The metrics socket is no echo listener: HTTP answers a bare line.
    m = tcp_connect(d.ports[1])
    m.sendall(b"hello\r\n\r\n")
    t = time.monotonic()
    raw = harness.recv_until_eof(m, timeout=5, allow_reset=True)
    diag("bare line: %r after %.0f ms" % (raw[:30],
                                          (time.monotonic() - t) * 1000))
    assert not raw.startswith(b"HELLO"), raw[:40]
    assert raw.startswith(b"HTTP/1.") or raw == b"", raw[:40]
    for p in d.ports[2:]:
        assert not harness.tcp_listening(p), "config port %d used" % p
    s.close()
    m.close()
    assert d.stop() == 0


def test_activation_metrics_must_be_stream():
    if not os.access(SSA, os.X_OK):
        raise harness.Skip("systemd-socket-activate not installed")
    d = Daemon(mconf(), nports=2, ready=None,
               argv_prefix=[SSA, "--datagram", "-l", "127.0.0.1:{P0}",
                            "--fdname=metrics",
                            "-E", "NOTIFY_SOCKET={NOTIFY}"])
    assert wait_for(lambda: harness.udp_bound(d.port), 5)
    harness.udp_exchange(d.port, b"start", timeout=0.5)
    assert wait_for(lambda: d.proc.poll() is not None, 10), "still running"
    assert d.proc.returncode == harness.EX_CONFIG, d.proc.returncode
    d.wait_stderr(r"named 'metrics' but is a datagram socket")


def echo_rtts(port, n):
    """n round trips of a short line on one connection, in ms."""
    s = tcp_connect(port)
    out = []
    for i in range(n):
        t = time.monotonic()
        tcp_echo(s, b"ping %d\n" % i, timeout=5)
        out.append((time.monotonic() - t) * 1000)
    s.close()
    return out


def watchdog_gaps(msgs):
    ts = [t for t, m in msgs if "WATCHDOG=1" in m.split("\n")]
    return [b - a for a, b in zip(ts, ts[1:])]


@harness.timeout(60)
def test_slowloris():
    """200 HTTP clients dribble a request line, a byte every 50 ms per
    client, for 3 s: echo latency and WATCHDOG=1 go on as before, and
    /metrics answers again once they are gone."""
    nclients, dribble_s = 200, 3.0
    d = Daemon(mconf(), nports=2, env={"WATCHDOG_USEC": "1000000"})
    d.collect_notify(0.3)
    base = echo_rtts(d.port, 100)
    t_start = time.monotonic()
    slow = []
    for _ in range(nclients):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect((LOCAL4, d.ports[1]))
        s.setblocking(False)
        slow.append(s)
    stop = threading.Event()
    sent = [0]

    def dribble():
        line = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
        i = 0
        while not stop.is_set():
            for s in slow:
                try:
                    s.send(line[i % len(line):i % len(line) + 1])
                    sent[0] += 1
                except OSError:
                    pass        # closed by the cap: that is allowed
            i += 1
            stop.wait(0.05)
    th = threading.Thread(target=dribble, daemon=True)
    th.start()
    try:
        d._read_notify(0.3)
        during = echo_rtts(d.port, 100)
        # The cap: a scrape now may be refused, but must not hang the loop.
        try:
            st = get(d.ports[1], timeout=2)[0]
        except (OSError, http.client.HTTPException) as e:
            st = type(e).__name__
        # Read WATCHDOG=1 as it comes: its arrival time is the measure.
        while time.monotonic() - t_start < dribble_s:
            d._read_notify(0.02)
    finally:
        stop.set()
        th.join()
    d._read_notify(0)
    msgs = [(t, m) for t, m in d.messages if t >= t_start]
    gaps = watchdog_gaps(msgs)
    for s in slow:
        s.close()
    mb, md = statistics.median(base), statistics.median(during)
    diag("echo round trip median: %.3f ms before, %.3f ms during "
         "(max %.1f ms); a scrape during: %s; %d bytes dribbled" %
         (mb, md, max(during), st, sent[0]))
    diag("WATCHDOG=1 during: %d, largest gap %.0f ms (period 1000 ms, sent "
         "every 500 ms)" % (len(gaps) + 1 if gaps else 0,
                            max(gaps) * 1000 if gaps else -1))
    assert md < 5 * mb + 20, "echo median %.2f ms vs %.2f before" % (md, mb)
    assert len(gaps) >= 3, "only %d WATCHDOG=1 in %.1f s" % (
        len(gaps) + 1, dribble_s)
    assert max(gaps) < 1.0, "WATCHDOG=1 gap %.0f ms" % (max(gaps) * 1000)
    # Gone: the endpoint answers again.
    t = time.monotonic()
    assert wait_for(lambda: _scrape_ok(d.ports[1]), 5), \
        "no /metrics after the slow clients closed"
    diag("/metrics answered %.0f ms after they closed" %
         ((time.monotonic() - t) * 1000))
    assert d.alive()


@harness.timeout(40)
def test_cap_and_idle_timeout():
    """64 silent HTTP connections fill the endpoint: the 65th is closed at
    once; after 10 s of silence MHD closes them, and scrapes work again."""
    d = Daemon(mconf(), nports=2)
    held = []
    for _ in range(64):
        held.append(tcp_connect(d.ports[1]))
    # MHD has taken them all once a scrape is turned away.
    t0 = time.monotonic()
    extra = tcp_connect(d.ports[1])
    extra.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    raw = harness.recv_until_eof(extra, timeout=5, allow_reset=True)
    assert raw == b"", "the 65th got an answer: %r" % raw[:40]
    assert time.monotonic() - t0 < 2, "the 65th waited"
    t0 = time.monotonic()
    for s in held:
        assert harness.recv_until_eof(s, timeout=15, allow_reset=True) \
            == b""
    waited = time.monotonic() - t0
    diag("64 silent connections closed after %.1f s" % waited)
    assert 7 < waited < 14, "closed after %.1f s (timeout 10 s)" % waited
    assert _scrape_ok(d.ports[1])


def _scrape_ok(port):
    try:
        return get(port, timeout=1)[0] == 200
    except (OSError, http.client.HTTPException):
        return False


if __name__ == "__main__":
    harness.run_tests(globals())
