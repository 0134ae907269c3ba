#!/usr/bin/env python3
"""The upgrade hand-over (SIGUSR2, doc/handover.md): sessions in every
state continue with exactly the right bytes in the successor; repeated
hand-overs under load keep descriptors, memory and counters; nothing is
refused and no datagram is lost; each failure leaves the old process
serving and logs its own MESSAGE_ID."""

import ctypes
import os
import re
import shutil
import signal
import socket
import stat
import struct
import threading
import time

import harness
from harness import (Daemon, closed_unanswered, conf, connect_from, diag, tcp_connect, tcp_echo, recv_exact,
                     recv_until_eof, check_bytes, udp_socket, upper,
                     upper_unicode, wait_for, tmpdir, write_file, LOCAL4)

MSGID = {
    "handed_over": "877b925e3ffe45389065e51de492d264",
    "exec": "514e900f20fd4ebbb05995a483b12b0e",
    "died": "382117047c794dbb83aa2001a4b54709",
    "config": "b3a56a55af024471866d2ef8a7bc55b4",
    "state": "1cf4c95227d647db80c31bce9a2c2cfc",
    "timeout": "0ac7da5c186441e9987719ab1f21313a",
    "took_over": "00a445516b2f4a6cb64b40a0f0d255b8",
    "busy": "d4b8074c9a3b4959932934f45e6fc5f2",
}

# The successor is the old process's child: once the old one exits it
# is re-parented to us (a subreaper), so we can reap it like our own.
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


class Adopted:
    """A Popen-like handle (pid, poll, wait, send_signal, kill) for the
    successor, which is not our child but our orphan."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None
        self.args = ["successor %d" % pid]

    def _reap(self, flags):
        if self.returncode is not None:
            return self.returncode
        try:
            pid, st = os.waitpid(self.pid, flags)
        except ChildProcessError:
            self.returncode = 0 if not os.path.exists(
                "/proc/%d" % self.pid) else None
            return self.returncode
        if pid == 0:
            return None
        self.returncode = (os.WEXITSTATUS(st) if os.WIFEXITED(st)
                           else -os.WTERMSIG(st))
        return self.returncode

    def poll(self):
        return self._reap(os.WNOHANG)

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                import subprocess
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.01)
        return self.returncode

    def send_signal(self, sig):
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self):
        self.send_signal(signal.SIGKILL)


class CopyDaemon(Daemon):
    """A daemon run from a copy of the binary in its own directory, so a
    test can remove or replace the file SIGUSR2 executes."""

    def __init__(self, *a, **kw):
        self.exe = None
        super().__init__(*a, start=False, **kw)
        self.exe = os.path.join(self.dir, "upcased")
        shutil.copy2(harness.BIN, self.exe)
        self.start()

    def argv(self):
        av = super().argv()
        if self.exe is not None:
            av[av.index(harness.BIN)] = self.exe
        return av


def handover(d, timeout=15.0):
    """SIGUSR2, then MAINPID= and READY=1: d follows the successor.
    Returns (ms from SIGUSR2 to READY=1, old pid, new pid)."""
    d._read_notify(0)
    d._cursor = len(d.messages)
    old = d.pid
    t0 = time.monotonic()
    d.signal(signal.SIGUSR2)
    _, m = d.next_notify(lambda m: m.startswith("MAINPID="), timeout,
                         "MAINPID=")
    new = int(m.split("=", 1)[1])
    assert new != old, "MAINPID=%d is the old pid" % new
    oldproc = d.proc
    d.proc = Adopted(new)
    harness._procs.append(d.proc)
    t_ready = d.expect_notify("READY=1", timeout)
    rc = oldproc.wait(timeout=5)
    assert rc == 0, "the old process exited %r" % rc
    return (t_ready - t0) * 1000.0, old, new


def failed_handover(d, what, timeout=15.0):
    """SIGUSR2 that must fail: the same process stays, READY=1 again, and
    one line with the MESSAGE_ID of what."""
    d._read_notify(0)
    d._cursor = len(d.messages)
    before = d.stderr().count("MESSAGE_ID=" + MSGID[what])
    pid = d.pid
    d.signal(signal.SIGUSR2)
    d.expect_notify("RELOADING=1", timeout)
    d.expect_notify("READY=1", timeout)
    assert d.alive() and d.pid == pid, "the old process is gone"
    lines = [l for l in d.stderr().splitlines()
             if "MESSAGE_ID=" + MSGID[what] in l]
    assert len(lines) == before + 1, "expected one more %s line: %r" % (
        what, lines)
    diag("%s: %s" % (what, lines[-1][:220]))
    return lines[-1]


# --- sessions in every state --------------------------------------------

class Session:
    """A client whose bytes sent and received are all kept: at the end
    what it received must be exactly the transform of what it sent."""

    def __init__(self, port, kind, i):
        self.kind = kind
        self.i = i
        self.s = tcp_connect(port)
        self.sent = bytearray()
        self.got = bytearray()
        self.err = None
        self.gaps = []          # pauses between chunks received (s)
        self.stop = threading.Event()
        self.threads = []
        self.wthread = None

    def send(self, data):
        self.s.sendall(data)
        self.sent += data

    def reader(self):
        def run():
            last = time.monotonic()
            try:
                while True:
                    b = self.s.recv(65536)
                    if not b:
                        return
                    now = time.monotonic()
                    self.gaps.append(now - last)
                    last = now
                    self.got += b
            except OSError as e:
                self.err = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)

    def writer(self, chunk, interval, total):
        def run():
            try:
                n = 0
                while n < total and not self.stop.is_set():
                    self.send(chunk)
                    n += len(chunk)
                    if interval:
                        time.sleep(interval)
            except OSError as e:
                self.err = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)
        self.wthread = t


def lower_line(n, seed):
    return (b"%07d " % seed + harness.fill_random_lower(n, seed) + b"\n")


def test_sessions_survive_handover():
    """50 sessions in the middle of their lives across SIGUSR2: each gets
    exactly the bytes it would have got without it."""
    d = Daemon(conf(workers=2, limits={"idle_timeout": 6,
                                       "max_pending_output": 262144}))
    port = d.port
    ss = []
    kinds = (["stream"] * 8 + ["queued"] * 6 + ["exit_held"] * 4 +
             ["exit_done"] * 4 + ["utf8_cut"] * 8 + ["half_closed"] * 6 +
             ["idle"] * 6 + ["byte_at_a_time"] * 8)
    for i, k in enumerate(kinds):
        ss.append(Session(port, k, i))
    # idle ones first: 4 s of silence before the hand-over (timeout 6 s)
    t_idle = time.monotonic()
    for x in ss:
        if x.kind == "idle":
            tcp_echo(x.s, b"quiet now\n")
            x.sent += b"quiet now\n"
            x.got += upper(b"quiet now\n")
    for x in ss:
        if x.kind == "stream":
            x.reader()
            x.writer(lower_line(900, x.i), 0.004, 1 << 30)
        elif x.kind == "queued":
            # more output than the socket buffers and the queue hold:
            # the writer blocks, nothing is read until after SIGUSR2
            x.writer(lower_line(16000, x.i), 0, 3 << 20)
        elif x.kind == "exit_held":
            x.send(b"some words\nex")
        elif x.kind == "exit_done":
            x.send(b"last words\nexi")
        elif x.kind == "utf8_cut":
            x.send("caf\u00e9 na\u00efve ".encode()[:-2] +
                   "\u00e9".encode()[:1])
        elif x.kind == "half_closed":
            # answered in part, our FIN read, the rest queued
            x.send(lower_line(120000, x.i))
            x.s.shutdown(socket.SHUT_WR)
        elif x.kind == "byte_at_a_time":
            x.reader()
            x.writer(b"z", 0.002, 1 << 30)
    # the queued writers fill the buffers and block; the idle ones wait
    time.sleep(max(0.0, 3.0 - (time.monotonic() - t_idle)))
    # new connections and datagrams all along
    load = Load(port)
    load.start()
    time.sleep(0.3)
    ms, old, new = handover(d)
    time.sleep(0.5)
    load.finish()
    # after: each kind finishes its story
    for x in ss:
        if x.kind == "queued":
            x.reader()
        elif x.kind == "exit_held":
            x.reader()
            x.send(b"tra\nthe end\n")
        elif x.kind == "exit_done":
            x.reader()
            x.send(b"t\n")
        elif x.kind == "utf8_cut":
            x.reader()
            x.send("\u00e9".encode()[1:] + b"!\n")
        elif x.kind == "half_closed":
            x.reader()
        elif x.kind == "idle":
            x.reader()
            x.send(b"still here\n")
    time.sleep(0.3)
    for x in ss:
        x.stop.set()
    for x in ss:
        if x.wthread is not None:
            x.wthread.join(30)          # the writers, then our FIN
        if x.kind not in ("exit_done", "half_closed"):
            x.s.shutdown(socket.SHUT_WR)
    total = 0
    bad = []
    pause = 0.0
    for x in ss:
        for t in x.threads:
            t.join(30)
        if x.kind == "exit_done":
            want = upper(b"last words\n")
        elif x.kind == "utf8_cut":
            want = upper_unicode(bytes(x.sent))
        else:
            want = upper(bytes(x.sent))
        if bytes(x.got) != want or x.err is not None:
            bad.append("%s #%d: got %d bytes, want %d (%r)" % (
                x.kind, x.i, len(x.got), len(want), x.err))
        total += len(want)
        if x.kind in ("stream", "byte_at_a_time") and x.gaps:
            pause = max(pause, max(x.gaps))
    diag("%d sessions kept across the hand-over (PID %d -> %d), %d bytes "
         "checked; SIGUSR2 -> READY=1 %.1f ms; longest pause seen by a "
         "streaming client %.0f ms" % (len(ss) - len(bad), old, new, total,
                                       ms, pause * 1000))
    diag(load.report())
    assert not bad, "sessions with wrong bytes: %s" % "; ".join(bad[:8])
    load.check()


class Load:
    """A new TCP connection every 10 ms (one line each) and a datagram
    every 2 ms: none may be refused, reset or lost."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.conns = 0
        self.conn_errors = []
        self.dgrams = 0
        self.replies = 0
        self.threads = []

    def start(self):
        for fn in (self._tcp, self._udp):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self.threads.append(t)

    def _tcp(self):
        while not self.stop.is_set():
            try:
                s = tcp_connect(self.port, timeout=10)
                tcp_echo(s, b"new connection %d\n" % self.conns)
                s.close()
                self.conns += 1
            except Exception as e:  # noqa: B902 - counted
                self.conn_errors.append(repr(e))
            time.sleep(0.01)

    def _udp(self):
        u = udp_socket()
        u.settimeout(0)
        seen = set()
        sent = 0
        deadline = None
        while True:
            if self.stop.is_set():
                deadline = deadline or time.monotonic() + 3.0
                if len(seen) == sent or time.monotonic() > deadline:
                    break
            else:
                u.sendto(b"dgram %d" % sent, (LOCAL4, self.port))
                sent += 1
            t_end = time.monotonic() + 0.002
            while time.monotonic() < t_end:
                try:
                    b, _ = u.recvfrom(100)
                    seen.add(b)
                except BlockingIOError:
                    time.sleep(0.0005)
        self.dgrams = sent
        self.replies = len(seen)
        wrong = [b for b in seen if not re.match(rb"DGRAM \d+$", b)]
        if wrong:
            self.conn_errors.append("wrong datagram replies %r" % wrong[:3])
        u.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(20)

    def report(self):
        return ("load meanwhile: %d new connections, %d failed; %d datagrams,"
                " %d answered" % (self.conns, len(self.conn_errors),
                                  self.dgrams, self.replies))

    def check(self):
        assert not self.conn_errors, "refused or failed: %r" % (
            self.conn_errors[:5])
        assert self.replies == self.dgrams, "%d of %d datagrams lost" % (
            self.dgrams - self.replies, self.dgrams)
test_sessions_survive_handover.timeout = 90


# --- several in a row ---------------------------------------------------

def served_so_far(line):
    m = re.search(r"(\d+) connections open, (\d+) served so far", line)
    assert m, "no counts in %r" % line
    return int(m.group(1)), int(m.group(2))


def took_over(d, old):
    """The successor's counts at the freeze, from its took-over event
    (logged just after READY=1)."""
    m = d.wait_stderr(r"took over from PID %d: .*MESSAGE_ID=%s" %
                      (old, MSGID["took_over"]))
    return served_so_far(m.group(0))


def test_repeated_handovers():
    """20 hand-overs in a row under bounded load: every session and
    datagram served, descriptors and memory back to their baseline, the
    count of connections served continuous and exact."""
    n = int(os.environ.get("HANDOVER_ROUNDS", "20"))
    d = Daemon(conf(workers=2))
    keep = [tcp_connect(d.port) for _ in range(5)]
    for i, s in enumerate(keep):
        tcp_echo(s, b"kept %d\n" % i)
    opened = len(keep)
    # a first round trip, so the baseline is a successor's
    handover(d)
    last = opened
    for s in keep:
        tcp_echo(s, b"after the first\n")
    fd0, rss0 = d.fd_count(), d.rss_kb()
    times = []
    for r in range(n):
        load = Load(d.port)
        load.start()
        time.sleep(0.05)
        ms, old, _ = handover(d)
        times.append(ms)
        time.sleep(0.05)
        load.finish()
        load.check()
        for i, s in enumerate(keep):
            tcp_echo(s, b"round %d session %d\n" % (r, i))
        # counted at the freeze: what came before, and part of the load
        _, served = took_over(d, old)
        assert last <= served <= opened + load.conns, (
            "round %d: %d served; expected %d .. %d" % (
                r, served, last, opened + load.conns))
        last = served
        opened += load.conns
    # with no load meanwhile the count is exact
    _, old, _ = handover(d)
    open_, served = took_over(d, old)
    assert open_ == len(keep) and served == opened, (
        "%d open, %d served; expected %d and %d" % (
            open_, served, len(keep), opened))
    fd1, rss1 = d.fd_count(), d.rss_kb()
    diag("%d hand-overs: SIGUSR2 -> READY=1 median %.1f ms, max %.1f ms; "
         "%d connections served in all, counted exactly" % (
             n, sorted(times)[n // 2], max(times), opened))
    diag("descriptors %d -> %d, RSS %d -> %d kB" % (fd0, fd1, rss0, rss1))
    assert fd1 == fd0, "descriptors %d -> %d" % (fd0, fd1)
    if d.sanitizer() is None:
        assert rss1 <= rss0 * 1.3 + 2048, "RSS %d -> %d kB" % (rss0, rss1)
test_repeated_handovers.timeout = 120


def test_per_source_counts_carried():
    """max_connections_per_source holds across a hand-over: the open
    connections of a source are counted in the successor's table."""
    d = Daemon(conf(limits={"max_connections_per_source": 3}))
    mine = [connect_from("127.0.0.2", d.port) for _ in range(3)]
    for i, s in enumerate(mine):
        tcp_echo(s, b"held %d\n" % i)
    handover(d)
    extra = connect_from("127.0.0.2", d.port)
    assert closed_unanswered(extra, timeout=2.0), (
        "a 4th connection from 127.0.0.2 was served after the hand-over")
    for s in mine:
        tcp_echo(s, b"still here\n")
    mine.pop().close()
    time.sleep(0.2)
    again = connect_from("127.0.0.2", d.port)
    tcp_echo(again, b"room again\n")
    # and the released count is not taken twice
    extra = connect_from("127.0.0.2", d.port)
    assert closed_unanswered(extra, timeout=2.0), "over the limit"


def rate_attempt(src, port):
    """A new connection from src: True if answered, False if closed
    unanswered (refused by admission)."""
    s = connect_from(src, port, track=False)
    try:
        s.sendall(b"r\n")
        got = b""
        while len(got) < 2:
            b = s.recv(16)
            if not b:
                return False
            got += b
        return got == b"R\n"
    except (ConnectionResetError, BrokenPipeError):
        return False
    finally:
        s.close()


def test_connection_rate_carried():
    """A source held to its connection_rate before SIGUSR2 is still held
    right after it: the successor takes the per-source rate state (SOURCES),
    it does not hand every source a fresh burst.  At 1 a second the bucket
    refills by one token a second, so right after the hand-over a source
    gets at most the seconds since it emptied its bucket (plus one), never
    the whole burst again.  One source closed all its connections (an idle
    entry of the table), the other holds them open."""
    burst = 20
    d = Daemon(conf(level="info", limits={"connection_rate": 1,
                                          "connection_burst": burst,
                                          "max_connections_per_source": 0}))
    t0 = time.monotonic()
    idle = sum(rate_attempt("127.0.0.4", d.port) for _ in range(burst))
    held = []
    for i in range(burst):
        s = connect_from("127.0.0.5", d.port)
        tcp_echo(s, b"held %d\n" % i)
        held.append(s)
    assert idle == burst, "%d of the burst of %d served" % (idle, burst)
    for src in ("127.0.0.4", "127.0.0.5"):
        assert not rate_attempt(src, d.port), (
            "%s over its rate served before the hand-over" % src)
    ms, _, _ = handover(d)
    after = {src: sum(rate_attempt(src, d.port) for _ in range(burst))
             for src in ("127.0.0.4", "127.0.0.5")}
    elapsed = time.monotonic() - t0
    diag("hand-over in %.1f ms; %.2f s after the bursts: served %d and %d "
         "of %d (at most %d)" % (ms, elapsed, after["127.0.0.4"],
                                 after["127.0.0.5"], burst,
                                 int(elapsed) + 1))
    for src, n in after.items():
        assert n <= int(elapsed) + 1 and n < burst, (
            "%s got %d new connections right after the hand-over, %.2f s "
            "after using up its burst of %d at 1/s" % (src, n, elapsed,
                                                        burst))
    for i, s in enumerate(held):
        tcp_echo(s, b"still %d\n" % i)
    # another source still gets its whole burst
    fresh = sum(rate_attempt("127.0.0.6", d.port) for _ in range(burst))
    assert fresh == burst, "a fresh source got %d of %d" % (fresh, burst)


def test_stop_during_handover_is_not_lost():
    """SIGTERM right after SIGUSR2, at several delays: whichever process
    has the service then stops, answering its sessions; none is left
    serving."""
    for delay in (0.0, 0.01, 0.03, 0.05, 0.08, 0.3):
        d = Daemon(conf(workers=2, limits={"drain_timeout": 2}))
        s = tcp_connect(d.port)
        tcp_echo(s, b"before\n")
        d._read_notify(0)
        d._cursor = len(d.messages)
        old = d.proc
        d.signal(signal.SIGUSR2)
        time.sleep(delay)
        # as systemd does: to the main PID it knows now
        d._read_notify(0)
        moved = [m for _, m in d.messages if m.startswith("MAINPID=")]
        os.kill(int(moved[-1].split("=", 1)[1]) if moved else old.pid,
                signal.SIGTERM)
        assert old.wait(timeout=15) == 0, "the old process exited badly"
        d._read_notify(0.2)
        moved = [m for _, m in d.messages if m.startswith("MAINPID=")]
        if moved:
            succ = Adopted(int(moved[-1].split("=", 1)[1]))
            harness._procs.append(succ)
            d.proc = succ
            rc = succ.wait(timeout=15)
            assert rc == 0, "the successor exited %r" % rc
        check_bytes(recv_until_eof(s, timeout=10), b"", "after the stop")
        assert harness.tcp_refused(d.port), "still served after SIGTERM"
        diag("SIGTERM %.0f ms after SIGUSR2: %s" % (
            delay * 1000, "stopped by the successor" if moved else
            "the hand-over abandoned, the old one stopped"))


# --- failures: the old process serves on --------------------------------

FAKE_HELLO = r'''#!/usr/bin/env python3
import os, struct, sys, time
mode = %r
def rec(t, p):
    os.write(3, struct.pack("<BI", t, len(p)) + p)
if mode == "version":
    rel = b"9.9"
    rec(7, struct.pack("<IBH", 99, len(rel), 0) + rel)
elif mode == "refuse":
    rel = b"0.1.0"
    rec(7, struct.pack("<IBH", 1, len(rel), 0) + rel)
    os.read(3, 1 << 16)
    why = b"this state is not for me"
    rec(9, struct.pack("<BI", 2, 0) + why)
time.sleep(30)
'''


def session_ok(d, s, tag):
    tcp_echo(s, b"still served after %s\n" % tag.encode())
    u = udp_socket()
    u.settimeout(2)
    u.sendto(b"udp after %s" % tag.encode(), (LOCAL4, d.port))
    got, _ = u.recvfrom(200)
    u.close()
    check_bytes(got, upper(b"udp after %s" % tag.encode()), "udp")


def test_failures_leave_the_old_serving():
    """Missing, non-executable, crashing, foreign-version, refusing and
    silent successors, and a bad configuration: the old process keeps
    every session and logs why, each with its MESSAGE_ID; then a good
    binary takes over."""
    d = CopyDaemon(conf(workers=2),
                   env={"WATCHDOG_USEC": "3000000"})  # deadline 1.5 s
    s = tcp_connect(d.port)
    s.sendall(b"a line cut in the mid")
    check_bytes(recv_exact(s, 21), upper(b"a line cut in the mid"))
    real = d.exe + ".real"
    shutil.copy2(d.exe, real)

    def put(text=None, mode=0o755):
        if os.path.exists(d.exe):
            os.unlink(d.exe)
        if text is not None:
            write_file(d.exe, text)
            os.chmod(d.exe, mode)

    put(None)
    failed_handover(d, "exec")
    session_ok(d, s, "missing")
    shutil.copy2(real, d.exe)
    os.chmod(d.exe, 0o644)
    failed_handover(d, "exec")
    session_ok(d, s, "not executable")
    put("#!/bin/sh\nexit 3\n")
    line = failed_handover(d, "died")
    assert "status 3" in line, line
    session_ok(d, s, "exit 3")
    put("#!/bin/sh\nkill -SEGV $$\n")
    line = failed_handover(d, "died")
    assert "signal 11" in line, line
    session_ok(d, s, "crash")
    put(FAKE_HELLO % "version")
    line = failed_handover(d, "state")
    assert "version 99" in line, line
    session_ok(d, s, "version 99")
    put(FAKE_HELLO % "refuse")
    line = failed_handover(d, "state")
    assert "this state is not for me" in line, line
    session_ok(d, s, "refused")
    put(FAKE_HELLO % "silent")
    failed_handover(d, "timeout")
    session_ok(d, s, "silent")
    shutil.copy2(real, d.exe)
    good = d.config_template
    d.write_config(good + "no_such_setting = 1;\n")
    line = failed_handover(d, "config")
    assert "no_such_setting" in line, line
    session_ok(d, s, "bad config")
    # the line held all along, then a good binary takes over
    d.write_config(good)
    ms, old, new = handover(d)
    s.sendall(b"dle of it\n")
    check_bytes(recv_exact(s, 10), upper(b"dle of it\n"))
    session_ok(d, s, "the hand-over")
    diag("after 8 refused hand-overs, PID %d -> %d in %.1f ms" %
         (old, new, ms))
test_failures_leave_the_old_serving.timeout = 90


def test_usr2_while_stopping_is_refused():
    """SIGUSR2 during a stop (here a lame duck of 2 s) starts nothing:
    one notice with its MESSAGE_ID, no MAINPID=, and the stop goes on
    to exit 0."""
    d = Daemon(conf(extra="lame_duck = 2;", limits={"drain_timeout": 5}))
    d.signal(signal.SIGTERM)
    d.expect_notify("STOPPING=1", 3)
    d.signal(signal.SIGUSR2)
    assert wait_for(lambda: "MESSAGE_ID=" + MSGID["busy"] in d.stderr(),
                    3), "no notice with the busy MESSAGE_ID"
    line = [l for l in d.stderr().splitlines()
            if "MESSAGE_ID=" + MSGID["busy"] in l][-1]
    diag(line[:200])
    assert "SIGUSR2 while stopping: no hand-over" in line, line
    assert d.wait_exit(10) == 0
    d._read_notify(0)
    assert not [m for _, m in d.messages if m.startswith("MAINPID=")], \
        "a successor was announced during a stop"
    assert "handing over" not in d.stderr()


if __name__ == "__main__":
    harness.run_tests(globals())
