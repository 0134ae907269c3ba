#!/usr/bin/env python3
"""TCP sessions: exit command, half-close, many clients, backpressure,
idle timeout, connection cap, drain on SIGTERM."""

import os
import re
import select
import selectors
import signal
import socket
import subprocess
import time

import harness
from harness import (Daemon, conf, diag, tcp_connect, tcp_echo, recv_exact,
                     recv_until_eof, expect_eof, expect_silence, check_bytes,
                     upper, wait_for)


def fds_settle(d, baseline, timeout=3.0):
    """Wait until the daemon holds no more descriptors than baseline."""
    ok = wait_for(lambda: d.fd_count() <= baseline, timeout)
    assert ok, "daemon holds %d descriptors, %d before: %r" % (
        d.fd_count(), baseline, sorted(d.fd_targets()))


# --- exit command -------------------------------------------------------------

def test_exit_command_closes_session():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"one\ntwo\nexit\n")
    got = recv_until_eof(s, timeout=5)
    check_bytes(got, b"ONE\nTWO\n", "reply before EOF")


def test_exit_command_first_line():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"exit\n")
    check_bytes(recv_until_eof(s, timeout=5), b"", "reply to exit")


def test_exit_command_split_byte_by_byte():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    for b in b"abc\n":
        s.send(bytes([b]))
        time.sleep(0.01)
    check_bytes(recv_exact(s, 4), b"ABC\n")
    for b in b"exit\n":
        s.send(bytes([b]))
        time.sleep(0.02)
    check_bytes(recv_until_eof(s, timeout=5), b"", "after split exit line")


def test_exit_command_split_crlf_byte_by_byte():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"hi\r\n")
    check_bytes(recv_exact(s, 4), b"HI\r\n")
    for b in b"exit\r\n":
        s.send(bytes([b]))
        time.sleep(0.02)
    check_bytes(recv_until_eof(s, timeout=5), b"", "after exit\\r\\n")


def test_exit_command_crlf_one_write():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"line one\r\nexit\r\n")
    check_bytes(recv_until_eof(s, timeout=5), b"LINE ONE\r\n")


def test_exit_command_split_across_writes():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"abc\nex")
    check_bytes(recv_exact(s, 4), b"ABC\n")
    time.sleep(0.1)
    s.sendall(b"i")
    time.sleep(0.1)
    s.sendall(b"t\n")
    check_bytes(recv_until_eof(s, timeout=5), b"")


def test_exit_command_not_a_match():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    lines = [b"exited\n", b"exit now\n", b" exit\n", b"xexit\n", b"EXIT\n",
             b"Exit\n", b"exi\n", b"exit\r\r\n", b"exit \n", b"\n",
             b"exit\x00\n", b"ex\rit\n"]
    for line in lines:
        s.sendall(line)
        got = recv_exact(s, len(line), timeout=3)
        check_bytes(got, upper(line), "reply to %r" % line)
    # and the same lines in one write, then the real one
    blob = b"".join(lines)
    s.sendall(blob + b"exit\n")
    check_bytes(recv_until_eof(s, timeout=5), upper(blob))


def test_exit_command_after_data_in_same_write():
    """Input after the exit line is not answered."""
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"a\nb\nexit\nc\nd\n")
    got = recv_until_eof(s, timeout=5, allow_reset=True)
    check_bytes(got, b"A\nB\n")


def test_exit_command_custom():
    d = Daemon(conf(exit_command="quit"))
    s = tcp_connect(d.port)
    tcp_echo(s, b"exit\n")
    tcp_echo(s, b"quitting\n")
    s.sendall(b"last\nquit\n")
    check_bytes(recv_until_eof(s, timeout=5), b"LAST\n")


def test_exit_command_disabled():
    d = Daemon(conf(exit_command=""))
    s = tcp_connect(d.port)
    for line in (b"exit\n", b"\n", b"exit\r\n", b"quit\n"):
        tcp_echo(s, line)
    expect_silence(s, 0.2)
    tcp_echo(s, b"still here\n")


# --- half-close ---------------------------------------------------------------

def close_wait_on(port):
    return [st for st in harness.tcp_states(port) if st == "CLOSE_WAIT"]


def test_half_close_small():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"no newline at the end")
    s.shutdown(socket.SHUT_WR)
    check_bytes(recv_until_eof(s, timeout=5), b"NO NEWLINE AT THE END")


def test_half_close_held_exit_prefix_is_answered():
    """Bytes held back as a possible exit line come back at EOF."""
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"x\nexi")
    check_bytes(recv_exact(s, 2), b"X\n")
    s.shutdown(socket.SHUT_WR)
    check_bytes(recv_until_eof(s, timeout=5), b"EXI")


@harness.timeout(60)
def test_half_close_8mib():
    d = Daemon(conf())
    baseline = d.fd_count()
    s = tcp_connect(d.port)
    data = harness.fill_random_lower(8 << 20, seed=8)
    t0 = time.monotonic()
    th, res = harness.sender_thread(s, data, then_shutdown=True, timeout=30)
    got = recv_until_eof(s, timeout=30)
    elapsed = time.monotonic() - t0
    th.join(5)
    assert res["error"] is None, "sender: %s" % res["error"]
    assert res["done"], "sender did not finish"
    check_bytes(got, upper(data), "8 MiB reply")
    diag("8 MiB half-closed session answered in %.2f s" % elapsed)
    # the server must close its side, not linger in CLOSE_WAIT
    states = harness.tcp_states(d.port)
    diag("server port %d TCP states after EOF: %r" % (d.port, states))
    ok = wait_for(lambda: not close_wait_on(d.port), 1.0)
    assert ok, "CLOSE_WAIT on port %d after EOF: %r" % (
        d.port, harness.tcp_states(d.port))
    s.close()
    fds_settle(d, baseline)


def test_no_close_wait_after_client_close():
    """A client that closes (both ways) is cleaned up at once."""
    d = Daemon(conf())
    baseline = d.fd_count()
    socks = [tcp_connect(d.port) for _ in range(10)]
    for s in socks:
        tcp_echo(s, b"x\n")
    for s in socks:
        s.close()
    ok = wait_for(lambda: not close_wait_on(d.port), 2.0)
    assert ok, "CLOSE_WAIT after clients closed: %r" % (
        harness.tcp_states(d.port),)
    fds_settle(d, baseline)


# --- many clients ---------------------------------------------------------------

@harness.timeout(60)
def test_500_concurrent_clients():
    n = 500
    # all from 127.0.0.1: the per-source limit (256) is not under test
    d = Daemon(conf(workers=2, limits={"max_connections_per_source": 0}))
    sel = selectors.DefaultSelector()
    clients = {}
    t0 = time.monotonic()
    deadline = t0 + 30
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((harness.LOCAL4, d.port))
        assert err in (0, 115, 11), "connect_ex: %s" % os.strerror(err)
        msg = b"client %03d says hello to you %08x\n" % (i, i * 2654435761 %
                                                         (1 << 32))
        c = {"i": i, "sock": s, "msg": msg, "exp": upper(msg),
             "sent": 0, "got": b"", "state": "connecting"}
        clients[s] = c
        harness.defer(s.close)
        sel.register(s, selectors.EVENT_WRITE, c)
    # phase 1: all connected (so all 500 are open at once)
    connected = 0
    while connected < n:
        if time.monotonic() > deadline:
            raise AssertionError("only %d of %d connected in 30 s" %
                                 (connected, n))
        for key, ev in sel.select(timeout=1):
            c = key.data
            err = c["sock"].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            assert err == 0, "client %d: connect: %s" % (c["i"],
                                                         os.strerror(err))
            c["state"] = "connected"
            sel.unregister(c["sock"])
            connected += 1
    t_conn = time.monotonic() - t0
    # phase 2: everybody sends, everybody reads
    for c in clients.values():
        sel.register(c["sock"], selectors.EVENT_WRITE | selectors.EVENT_READ,
                     c)
    done = 0
    while done < n:
        if time.monotonic() > deadline:
            pending = [c["i"] for c in clients.values()
                       if c["state"] != "done"]
            raise AssertionError("%d of %d clients answered in 30 s; e.g. "
                                 "client %d got %r" % (
                                     done, n, pending[0],
                                     clients_by_i(clients, pending[0])))
        for key, ev in sel.select(timeout=1):
            c = key.data
            s = c["sock"]
            if ev & selectors.EVENT_WRITE and c["sent"] < len(c["msg"]):
                c["sent"] += s.send(c["msg"][c["sent"]:])
                if c["sent"] == len(c["msg"]):
                    sel.modify(s, selectors.EVENT_READ, c)
                continue
            if ev & selectors.EVENT_READ:
                chunk = s.recv(4096)
                if not chunk:
                    raise AssertionError("client %d: EOF after %r" % (
                        c["i"], c["got"]))
                c["got"] += chunk
                if len(c["got"]) >= len(c["exp"]):
                    check_bytes(c["got"], c["exp"],
                                "client %d reply" % c["i"])
                    c["state"] = "done"
                    sel.unregister(s)
                    done += 1
    elapsed = time.monotonic() - t0
    diag("%d clients connected in %.2f s, all served in %.2f s" %
         (n, t_conn, elapsed))
    # all still open; the daemon still serves a new one
    tcp_echo(tcp_connect(d.port), b"after the crowd\n")
    for s in list(clients):
        s.close()
    sel.close()


def clients_by_i(clients, i):
    for c in clients.values():
        if c["i"] == i:
            return c["got"]


# --- backpressure -----------------------------------------------------------------

@harness.timeout(60)
def test_client_that_never_reads_rss_bounded():
    total = 64 << 20
    d = Daemon(conf(workers=2, limits={"max_pending_output": 1048576}))
    # warm up every worker (buffers, arenas) before the baseline
    warm = [tcp_connect(d.port) for _ in range(4)]
    for s in warm:
        tcp_echo(s, harness.fill_random_lower(256 << 10, seed=3))
    time.sleep(0.2)
    base = d.rss_kb()
    s = tcp_connect(d.port)
    s.setblocking(False)
    block = harness.fill_random_lower(1 << 20, seed=64)
    sent = 0
    t0 = time.monotonic()
    last_progress = t0
    peak = base
    while sent < total:
        now = time.monotonic()
        if now - last_progress > 1.5 or now - t0 > 20:
            break
        _, w, _ = select.select([], [s], [], 0.2)
        peak = max(peak, d.rss_kb())
        if not w:
            continue
        off = sent % len(block)
        try:
            n = s.send(block[off:off + 262144])
        except BlockingIOError:
            continue
        sent += n
        last_progress = time.monotonic()
    for _ in range(5):
        peak = max(peak, d.rss_kb())
        time.sleep(0.1)
    growth = peak - base
    diag("rss growth: %d KiB (baseline %d KiB, peak %d KiB)" %
         (growth, base, peak))
    diag("client sent %.1f MiB of %d MiB before the send blocked" %
         (sent / 1048576.0, total >> 20))
    assert sent < total, "all 64 MiB were taken in without reading: no " \
        "backpressure"
    limit = 4096
    san = d.sanitizer()
    if san:
        # shadow memory: every byte the daemon touches costs 1/8 (ASan) to
        # 4 (TSan) bytes more; the bound still tells "bounded" from 64 MiB
        limit = 16384
        diag("%s build: RSS bound %d KiB instead of 4096" % (san, limit))
    assert growth <= limit, "RSS grew by %d KiB (> %d KiB)" % (growth, limit)
    # others are still served meanwhile
    tcp_echo(tcp_connect(d.port), b"not blocked by the slow one\n")
    # and nothing was lost: the slow client now reads all it sent
    s.setblocking(True)
    expect = bytearray()
    got = recv_exact(s, sent, timeout=30)
    for off in range(0, sent, len(block)):
        expect += upper(block[:min(len(block), sent - off)])
    check_bytes(got, bytes(expect), "backlog of the slow client")
    tcp_echo(s, b"and the session goes on\n")


# --- socket buffers ---------------------------------------------------------------

def _server_skmem(port):
    """{"tb": ..., "rb": ...} of the daemon's side of each connection on
    port, from ss(8): the kernel's doubled SO_SNDBUF and SO_RCVBUF."""
    try:
        out = subprocess.run(["ss", "-tmnH", "sport = :%d" % port],
                             capture_output=True, text=True,
                             timeout=5).stdout
    except FileNotFoundError:
        raise harness.Skip("ss(8) not installed")
    return [dict((k, int(v)) for k, v in
                 re.findall(r"\b(tb|rb)(\d+)", m))
            for m in re.findall(r"skmem:\(([^)]*)\)", out)]


def _buffers_conf(snd, rcv):
    return conf(tcp=None, extra='tcp = { ports = [ {P0} ]; bind = '
                '"127.0.0.1"; send_buffer = %d; receive_buffer = %d; };'
                % (snd, rcv))


def test_socket_buffers_set_and_reloaded():
    """tcp.send_buffer and receive_buffer reach every accepted connection
    (the kernel reports them doubled), and a reload gives connections
    accepted after it the new sizes."""
    d = Daemon(_buffers_conf(1 << 20, 1 << 19))
    s = tcp_connect(d.port)
    tcp_echo(s, b"hello\n")
    got = _server_skmem(d.port)
    assert got == [{"tb": 2 << 20, "rb": 2 << 19}], got
    d.reload(_buffers_conf(1 << 18, 1 << 17))
    s2 = tcp_connect(d.port)
    tcp_echo(s2, b"again\n")
    got = sorted(_server_skmem(d.port), key=lambda m: m["tb"])
    assert got == [{"tb": 2 << 18, "rb": 2 << 17},
                   {"tb": 2 << 20, "rb": 2 << 19}], got


# --- idle timeout ---------------------------------------------------------------

def test_idle_timeout_closes_idle_connection():
    """idle_timeout = 1: a connection silent for 1 s is closed - not much
    later, and never sooner.  Three idle connections go silent a third of
    a second apart (so a clock that counts whole seconds shows), while a
    busy one on the same worker talks every 0.1 s and stays open."""
    d = Daemon(conf(workers=1, limits={"idle_timeout": 1}))
    busy = tcp_connect(d.port)
    idle = [tcp_connect(d.port) for _ in range(3)]
    last = [None] * 3
    closed = [None] * 3
    t_start = time.monotonic()
    for i, s in enumerate(idle):
        if i:
            time.sleep(0.33)
        tcp_echo(s, b"then silence %d\n" % i)
        last[i] = time.monotonic()
    # watch for 3.5 s after the last one went silent
    while time.monotonic() - last[2] < 3.5 and None in closed:
        tcp_echo(busy, b"ping\n")
        r, _, _ = select.select([s for i, s in enumerate(idle)
                                 if closed[i] is None], [], [], 0.1)
        now = time.monotonic()
        for s in r:
            i = idle.index(s)
            try:
                data = s.recv(100)
            except ConnectionResetError:
                data = b""
            assert data == b"", "idle connection %d got %r" % (i, data)
            closed[i] = now - last[i]
    after = ", ".join("%.2f s" % c if c is not None else "open"
                      for c in closed)
    diag("idle connections closed after %s of silence (idle_timeout = 1)"
         % after)
    assert None not in closed, "not all closed within 3.5 s: %s" % after
    early = [c for c in closed if c < 0.9]
    assert not early, "closed after less than 1 s of silence: %s" % after
    late = [c for c in closed if c > 3.0]
    assert not late, "closed too late: %s" % after
    tcp_echo(busy, b"busy one still open after %.1f s\n" %
             (time.monotonic() - t_start))


def test_idle_timeout_zero_never():
    d = Daemon(conf(limits={"idle_timeout": 0}))
    s = tcp_connect(d.port)
    tcp_echo(s, b"a\n")
    expect_silence(s, 2.2)
    tcp_echo(s, b"still open\n")


# --- connection cap ---------------------------------------------------------------

def test_max_connections():
    d = Daemon(conf(workers=2, limits={"max_connections": 5}))
    first = [tcp_connect(d.port) for _ in range(5)]
    for i, s in enumerate(first):
        tcp_echo(s, b"client %d\n" % i)
    sixth = tcp_connect(d.port)
    t0 = time.monotonic()
    try:
        data = sixth.recv(100) if select.select([sixth], [], [], 3)[0] \
            else None
    except ConnectionResetError:
        data = b""
    dt = time.monotonic() - t0
    assert data is not None, "6th connection neither closed nor reset in 3 s"
    assert data == b"", "6th connection got data: %r" % data
    diag("6th connection closed after %.1f ms" % (dt * 1000))
    assert dt < 2, "6th connection closed only after %.2f s" % dt
    for i, s in enumerate(first):
        tcp_echo(s, b"still served %d\n" % i)
    # a slot freed is usable again
    first[0].close()

    def seventh_served():
        try:
            s = tcp_connect(d.port, timeout=1)
            s.sendall(b"seventh\n")
            return recv_exact(s, 8, timeout=1) == b"SEVENTH\n"
        except (AssertionError, OSError):
            return False
    assert wait_for(seventh_served, 3, 0.1), \
        "no new connection served after one of the 5 closed"


# --- stop -------------------------------------------------------------------------

@harness.timeout(60)
def test_sigterm_drains_pending_output():
    size = 4 << 20
    d = Daemon(conf(limits={"drain_timeout": 5}))
    s = tcp_connect(d.port)
    data = harness.fill_random_lower(size, seed=4)
    th, res = harness.sender_thread(s, data, timeout=20)
    th.join(3)
    diag("before SIGTERM the client had sent %.2f of 4 MiB without reading"
         % (res["sent"] / 1048576.0))
    assert res["error"] is None, res["error"]
    assert res["done"], "the 4 MiB could not even be sent in 3 s " \
        "(%d bytes sent)" % res["sent"]
    time.sleep(0.2)
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    got = recv_until_eof(s, timeout=8)
    t_eof = time.monotonic() - t0
    rc = d.wait_exit(8)
    t_exit = time.monotonic() - t0
    diag("after SIGTERM: all read, EOF at %.2f s, exit %d at %.2f s" %
         (t_eof, rc, t_exit))
    check_bytes(got, upper(data), "drained reply")
    assert rc == 0, "exit status %d" % rc
    assert t_exit <= 5 + 2, "exit took %.2f s" % t_exit


def test_sigterm_drain_timeout_expires():
    """A client that never reads is cut off at drain_timeout."""
    d = Daemon(conf(limits={"drain_timeout": 1}))
    s = tcp_connect(d.port)
    s.setblocking(False)
    block = harness.fill_random_lower(1 << 20, seed=5)
    sent = 0
    t_end = time.monotonic() + 5
    while time.monotonic() < t_end:
        if not select.select([], [s], [], 0.5)[1]:
            break
        try:
            sent += s.send(block)
        except BlockingIOError:
            break
    diag("client sent %.1f MiB and stopped reading" % (sent / 1048576.0))
    idle = tcp_connect(d.port)
    tcp_echo(idle, b"idle one\n")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    # an idle connection has nothing pending: closed at once
    idle.settimeout(3)
    try:
        data = idle.recv(10)
    except ConnectionResetError:
        data = b""
    except socket.timeout:
        data = None
    t_idle = time.monotonic() - t0
    # stop accepting: once the daemon says STOPPING=1 (plus a moment for
    # every worker to hear of it), the port is closed and a new client is
    # not served
    d.expect_notify("STOPPING=1", 2)
    # (a sanitizer build on a loaded machine needs longer to hear of it)
    grace = 0.3 if d.sanitizer() is None else 2.0
    closed = wait_for(lambda: not harness.tcp_listening(d.port), grace)
    served = False
    try:
        n = socket.create_connection((harness.LOCAL4, d.port), timeout=0.5)
        n.sendall(b"new\n")
        served = n.recv(10) == b"NEW\n"
        n.close()
    except OSError:
        pass
    rc = d.wait_exit(1 + 3)
    t_exit = time.monotonic() - t0
    diag("idle connection closed %.2f s after SIGTERM; exit %d at %.2f s" %
         (t_idle, rc, t_exit))
    assert data == b"", "idle connection after SIGTERM: %r" % data
    assert t_idle < 1.0, "idle connection closed only after %.2f s" % t_idle
    assert closed, "port %d still listening %.1f s after STOPPING=1" % (
        d.port, grace)
    assert not served, "a new connection was served after STOPPING=1"
    assert rc == 0, "exit status %d" % rc
    assert 0.8 <= t_exit <= 3.0, "exit %.2f s after SIGTERM with " \
        "drain_timeout = 1" % t_exit


def test_sigterm_drain_timeout_zero_exits_at_once():
    """drain_timeout = 0: no draining; open (idle) clients do not delay
    the exit."""
    d = Daemon(conf(limits={"drain_timeout": 0}))
    clients = [tcp_connect(d.port) for _ in range(3)]
    for c in clients:
        tcp_echo(c, b"idle after this\n")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(5)
    dt = time.monotonic() - t0
    diag("exit %d %.3f s after SIGTERM with drain_timeout = 0 and 3 idle "
         "clients" % (rc, dt))
    assert rc == 0, "exit status %d" % rc
    assert dt < 0.5, "exit took %.2f s with drain_timeout = 0" % dt
    for c in clients:
        expect_eof(c, timeout=1, allow_reset=True)


if __name__ == "__main__":
    harness.run_tests(globals())
