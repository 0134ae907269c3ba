#!/usr/bin/env python3
"""Stopping without losing a connection: what sits in the kernel's accept
queue at SIGTERM is accepted and answered, and once the listeners are
closed a new connect is refused (which a balancer can retry elsewhere),
not accepted and then reset (which it cannot)."""

import signal
import socket
import struct
import time

import harness
from harness import Daemon, conf, diag, recv_exact, tcp_connect, upper

BACKLOG_CLIENTS = 20


def queue_clients(d, n):
    """With the daemon stopped (SIGSTOP), open n connections and send a
    line on each: the kernel completes them into the listener's accept
    queue, where they wait.  Returns [(socket, expected reply)]."""
    out = []
    for i in range(n):
        s = tcp_connect(d.port, timeout=5)
        line = b"queued client %d of %d, still waiting\n" % (i, n)
        s.sendall(line)
        out.append((s, upper(line)))
    return out


def answered(clients, timeout=8.0):
    """How many of the clients got their whole reply; failures described."""
    ok, bad = 0, []
    for i, (s, exp) in enumerate(clients):
        try:
            got = recv_exact(s, len(exp), timeout=timeout)
        except (AssertionError, OSError) as e:
            bad.append("client %d: %s" % (i, e))
            continue
        if got == exp:
            ok += 1
        else:
            bad.append("client %d: wrong reply %r" % (i, got))
    return ok, bad


def probe(port, timeout=3.0):
    """One new connection: "refused", "served" (a line answered), or
    "reset" (accepted, then reset or closed unanswered)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((harness.LOCAL4, port))
    except ConnectionRefusedError:
        s.close()
        return "refused"
    try:
        s.sendall(b"probe\n")
        got = recv_exact(s, 6, timeout=timeout)
        return "served" if got == b"PROBE\n" else "reset"
    except (AssertionError, OSError):
        return "reset"
    finally:
        s.close()


@harness.timeout(60)
def test_sigterm_serves_the_accept_queue_then_refuses():
    d = Daemon(conf(workers=2, limits={"drain_timeout": 10}))
    # A client that keeps talking keeps the daemon draining (alive)
    # while we watch its listener.
    holder = tcp_connect(d.port)
    holder.sendall(b"hold\n")
    assert recv_exact(holder, 5) == b"HOLD\n"
    d.signal(signal.SIGSTOP)
    harness.defer(lambda: d.alive() and d.signal(signal.SIGCONT))
    clients = queue_clients(d, BACKLOG_CLIENTS)
    d.signal(signal.SIGTERM)
    d.signal(signal.SIGCONT)
    ok, bad = answered(clients)
    diag("%d of %d connections queued at SIGTERM answered in full, "
         "%d lost" % (ok, BACKLOG_CLIENTS, BACKLOG_CLIENTS - ok))
    for b in bad[:5]:
        diag(b)
    # Until the listener is gone a connect may still be served; after
    # that it must be refused, never accepted and reset.
    seen = {"refused": 0, "served": 0, "reset": 0}
    deadline = time.monotonic() + 5
    alive_at_refusal = None
    while time.monotonic() < deadline:
        holder.sendall(b"hold\n")
        assert recv_exact(holder, 5) == b"HOLD\n", "holder not served"
        r = probe(d.port)
        seen[r] += 1
        if r == "refused":
            alive_at_refusal = d.alive()
            break
        time.sleep(0.02)
    diag("connects after SIGTERM: %d served, %d accepted then reset, "
         "%d refused (daemon still draining then: %s)" %
         (seen["served"], seen["reset"], seen["refused"], alive_at_refusal))
    assert ok == BACKLOG_CLIENTS, "%d of %d queued connections lost" % (
        BACKLOG_CLIENTS - ok, BACKLOG_CLIENTS)
    assert seen["reset"] == 0, "a connect after SIGTERM was accepted " \
        "and then reset"
    assert seen["refused"] == 1, "connects still accepted 5 s after SIGTERM"
    assert alive_at_refusal, "refused only because the daemon had exited"
    holder.close()
    assert d.wait_exit(8) == 0


@harness.timeout(60)
def test_sigterm_accept_queue_on_every_port():
    """Two TCP ports, one worker: both queues are served."""
    d = Daemon(conf(tcp="[ {P0}, {P1} ]", udp="[ ]", workers=1,
                    limits={"drain_timeout": 5}), nports=2)
    d.signal(signal.SIGSTOP)
    harness.defer(lambda: d.alive() and d.signal(signal.SIGCONT))
    clients = []
    for port in d.ports:
        for i in range(BACKLOG_CLIENTS // 2):
            s = tcp_connect(port, timeout=5)
            line = b"port %d client %d\n" % (port, i)
            s.sendall(line)
            clients.append((s, upper(line)))
    d.signal(signal.SIGTERM)
    d.signal(signal.SIGCONT)
    ok, bad = answered(clients)
    diag("two ports: %d of %d queued connections answered" %
         (ok, len(clients)))
    for b in bad[:5]:
        diag(b)
    assert ok == len(clients), "%d queued connections lost" % (
        len(clients) - ok)
    for s, _ in clients:
        s.close()
    assert d.wait_exit(8) == 0


def churn(port, stop_at_refusal, res, lock):
    """Connect, send a line, read its answer, close; again and again
    until a connect is refused (or the time is up)."""
    deadline = time.monotonic() + 10
    i = 0
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(3)
        line = b"churn %d\n" % i
        i += 1
        try:
            s.connect((harness.LOCAL4, port))
        except ConnectionRefusedError:
            s.close()
            with lock:
                res["refused"] += 1
            if stop_at_refusal.is_set():
                return
            continue
        except OSError as e:
            s.close()
            with lock:
                res["other"].append(repr(e))
            continue
        try:
            s.sendall(line)
            got = recv_exact(s, len(line), timeout=5)
            r = "served" if got == upper(line) else "reset"
        except (AssertionError, OSError):
            r = "reset"
        finally:
            s.close()
        with lock:
            res[r] += 1


STOP_ROUNDS = 8


@harness.timeout(120)
def test_sigterm_under_connection_churn():
    """Clients connect in a loop while the daemon stops: every connection
    the kernel accepted for it is answered, later ones are refused."""
    import threading
    total = {"served": 0, "reset": 0, "refused": 0, "other": []}
    for rnd in range(STOP_ROUNDS):
        d = Daemon(conf(workers=2, udp="[ ]",
                        limits={"drain_timeout": 5}))
        res = {"served": 0, "reset": 0, "refused": 0, "other": []}
        lock = threading.Lock()
        done = threading.Event()
        done.set()
        ths = [threading.Thread(target=churn, args=(d.port, done, res, lock),
                                daemon=True) for _ in range(4)]
        for t in ths:
            t.start()
        time.sleep(0.15)
        d.signal(signal.SIGTERM)
        for t in ths:
            t.join(15)
        assert not any(t.is_alive() for t in ths), "client threads hang"
        assert d.wait_exit(8) == 0
        for k in ("served", "reset", "refused"):
            total[k] += res[k]
        total["other"] += res["other"]
    diag("%d stops under churn (4 clients): %d connections served, %d "
         "accepted then reset or unanswered, %d refused, %d other errors"
         % (STOP_ROUNDS, total["served"], total["reset"], total["refused"],
            len(total["other"])))
    for e in total["other"][:3]:
        diag(e)
    assert total["served"] > 0, "nothing served before the stop"
    assert total["reset"] == 0, "%d accepted connections lost" % \
        total["reset"]
    assert not total["other"], total["other"][:3]


@harness.timeout(60)
def test_activated_socket_keeps_its_queue():
    """A socket passed by systemd is systemd's: at stop the daemon just
    stops accepting from it.  What is queued stays queued for the next
    instance, and a connect after the exit is queued there too (not
    dropped by a filter, not refused)."""
    port = harness.alloc_ports(1)[0]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((harness.LOCAL4, port))
    t.listen(128)
    harness.defer(t.close)
    d = Daemon(conf(tcp="[ ]", udp="[ ]"), nports=0,
               listen_fds=[t.fileno()], env={"LISTEN_FDNAMES": "tcp"},
               start=False)
    d.ports = [port]
    d.start()
    s = tcp_connect(port)
    s.sendall(b"before\n")
    assert recv_exact(s, 7) == b"BEFORE\n"
    s.close()
    d.signal(signal.SIGSTOP)
    harness.defer(lambda: d.alive() and d.signal(signal.SIGCONT))
    clients = queue_clients(d, 5)
    d.signal(signal.SIGTERM)
    d.signal(signal.SIGCONT)
    assert d.wait_exit(8) == 0
    # Each queued client was either served by the daemon before it saw
    # the stop, or is still in the queue of the activator's socket.
    t.settimeout(0.5)
    left = []
    while True:
        try:
            c, _ = t.accept()
        except socket.timeout:
            break
        harness.defer(c.close)
        left.append(c)
    served, _ = answered([(c, e) for c, e in clients], timeout=0.5)
    diag("activated socket, 5 queued at SIGTERM: %d served by the daemon, "
         "%d still queued for the next instance" % (served, len(left)))
    assert served + len(left) == 5, "queued connections lost"
    late = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    harness.defer(late.close)
    late.settimeout(3)
    late.connect((harness.LOCAL4, port))
    late.sendall(b"next instance\n")
    c, _ = t.accept()
    harness.defer(c.close)
    c.settimeout(3)
    assert c.recv(64) == b"next instance\n", "late connect not queued"


# --- lame duck ----------------------------------------------------------------

@harness.timeout(60)
def test_lame_duck_serves_then_refuses():
    """lame_duck = 2: for 2 s after SIGTERM new connections are still
    served (STATUS= counts the seconds down), then they are refused."""
    d = Daemon(conf(extra="lame_duck = 2;", limits={"drain_timeout": 5}))
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    d.expect_notify("STOPPING=1", 3)
    _, status = d.next_notify(lambda m: "lame duck:" in m, 3,
                              "STATUS= with lame duck")
    diag("first STATUS= of the lame duck: %r" % status)
    assert "lame duck: 2 s left" in status, status
    served = 0
    while time.monotonic() - t0 < 1.5:
        assert probe(d.port) == "served", \
            "a connection refused or reset %.2f s into the lame duck" % (
                time.monotonic() - t0)
        served += 1
        time.sleep(0.05)
    _, status = d.next_notify(lambda m: "lame duck: 1 s left" in m, 3,
                              "STATUS= a second later")
    seen = {"served": 0, "reset": 0, "refused": 0}
    while time.monotonic() - t0 < 8:
        r = probe(d.port)
        seen[r] += 1
        if r == "refused":
            break
        time.sleep(0.02)
    t_refused = time.monotonic() - t0
    diag("lame duck 2 s: %d connections served in its first 1.5 s; then "
         "%d served, %d reset, refused from %.2f s after SIGTERM" %
         (served, seen["served"], seen["reset"], t_refused))
    assert seen["reset"] == 0, "a connection accepted and then reset"
    assert seen["refused"] == 1, "still accepting 8 s after SIGTERM"
    assert t_refused >= 1.9, "refused %.2f s after SIGTERM, before the " \
        "lame duck was over" % t_refused
    assert d.wait_exit(8) == 0
    assert "lame duck over" in d.stderr()


@harness.timeout(60)
def test_lame_duck_ends_on_a_second_sigterm():
    d = Daemon(conf(extra="lame_duck = 600;",
                    limits={"drain_timeout": 5}))
    d.signal(signal.SIGTERM)
    d.wait_stderr("lame duck for 600 s", timeout=3)
    assert probe(d.port) == "served", "not served in the lame duck"
    time.sleep(0.3)
    assert probe(d.port) == "served", "not served in the lame duck"
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert harness.wait_for(lambda: probe(d.port) == "refused", 5), \
        "still accepting 5 s after the second SIGTERM"
    t_refused = time.monotonic() - t0
    rc = d.wait_exit(8)
    t_exit = time.monotonic() - t0
    diag("second SIGTERM in a 600 s lame duck: refused after %.2f s, "
         "exit %d after %.2f s" % (t_refused, rc, t_exit))
    assert rc == 0
    assert "SIGTERM again: lame duck ended" in d.stderr()


V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
V2_LOCAL = V2_SIG + bytes([0x20, 0x00, 0x00, 0x00])   # a health check


def v2_proxy(src, sport=5000, dst="127.0.0.1", dport=8008):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport)
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def exchange(payload, port, src=harness.LOCAL4, n=None, timeout=3.0):
    """Send payload from src; the reply (n bytes), or b"" if the daemon
    closed the connection without a byte."""
    s = harness.connect_from(src, port, timeout=timeout)
    s.sendall(payload)
    buf = b""
    try:
        while n is None or len(buf) < n:
            chunk = s.recv(100)
            if not chunk:
                break
            buf += chunk
    except ConnectionResetError:
        pass
    s.close()
    return buf


@harness.timeout(60)
def test_lame_duck_fails_proxy_health_checks():
    """PROXY v2 LOCAL (a balancer's health check) is answered before the
    stop, closed unanswered in the lame duck; real clients through the
    balancer and direct ones are served meanwhile."""
    d = Daemon(conf(extra='lame_duck = 30;\n'
                    'proxy_protocol = { from = [ "127.0.0.1" ]; };'))
    assert exchange(V2_LOCAL + b"ping\n", d.port, n=5) == b"PING\n", \
        "health check not answered before the stop"
    d.signal(signal.SIGTERM)
    d.wait_stderr("lame duck for 30 s", timeout=3)
    # The workers take the lame duck state a moment after the log line.
    assert harness.wait_for(
        lambda: exchange(V2_LOCAL + b"ping\n", d.port, n=5) == b"", 3), \
        "health checks still answered 3 s into the lame duck"
    failed = 1
    for i in range(3):
        got = exchange(V2_LOCAL + b"ping\n", d.port, n=5)
        assert got == b"", "health check answered %r in the lame duck" % got
        failed += 1
        client = v2_proxy("192.0.2.%d" % (i + 1)) + b"client %d\n" % i
        assert exchange(client, d.port, n=9) == b"CLIENT %d\n" % i, \
            "a proxied client not served in the lame duck"
    assert exchange(b"direct\n", d.port, src="127.0.0.2", n=7) == \
        b"DIRECT\n", "a direct client not served in the lame duck"
    _, status = d.next_notify(
        lambda m: "%d health checks failed" % failed in m, 4,
        "STATUS= counting the failed health checks")
    diag("lame duck: %d health checks closed unanswered, proxied and "
         "direct clients served; %r" % (failed, status))
    d.signal(signal.SIGTERM)
    assert harness.wait_for(lambda: probe(d.port) == "refused", 5), \
        "still accepting after the lame duck ended"
    assert d.wait_exit(8) == 0


if __name__ == "__main__":
    harness.run_tests(globals())
