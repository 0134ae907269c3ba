#!/usr/bin/env python3
"""upcase, the client: streaming (pipes, -f/-o, 256 MiB byte for byte),
short transfers, every failure and its exit status, the interactive mode
through a pty, and UDP.

The daemon runs with its default transform ("unicode") unless a test
needs bytes.translate() to compute a large expected answer, and then
says transform = "ascii".

Environment: UPCASE_BIN (the client; default: beside UPCASED_BIN).
Traffic goes to 127.0.0.1 and ::1 only: even the unresolvable host name
is one the resolver refuses itself (a label longer than 63 bytes), so no
DNS query leaves the machine.
"""

import errno
import os
import select
import socket
import subprocess
import termios
import threading
import time

import harness
from harness import (Daemon, conf, diag, alloc_ports, check_bytes, defer,
                     ipv6_available, tmpdir, upper, upper_unicode, timeout,
                     Skip)

UPCASE = os.environ.get("UPCASE_BIN") or os.path.join(
    os.path.dirname(harness.BIN), "upcase")

EX_SHORT = 1
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_NOHOST = 68
EX_UNAVAILABLE = 69
EX_CANTCREAT = 73
EX_IOERR = 74
EX_TEMPFAIL = 75

MiB = 1 << 20
ALL_BYTES = bytes(range(256))
NO_SUCH_HOST = "x" * 64 + ".invalid"


def client(args, input=b"", timeout=20, stdin=None, stdout=None):
    """Run upcase to completion: CompletedProcess with bytes stdout and
    text stderr.  input is fed through a pipe unless stdin is given."""
    if not os.access(UPCASE, os.X_OK):
        raise AssertionError("UPCASE_BIN %r is not executable" % UPCASE)
    kw = {"stdin": stdin} if stdin is not None else {"input": input}
    r = subprocess.run([UPCASE] + [str(a) for a in args],
                       stdout=stdout if stdout is not None
                       else subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=harness.clean_env(), **kw)
    r.stderr = r.stderr.decode("utf-8", "replace")
    no_sanitizer_report(r.stderr)
    return r


def no_sanitizer_report(text):
    m = harness.SANITIZER_RE.search(text)
    if m:
        raise AssertionError("sanitizer report from upcase:\n" +
                             "\n".join(text[m.start():].splitlines()[:30]))


def expect_rc(r, rc, what=""):
    if r.returncode != rc:
        raise AssertionError("%sexit status %r, expected %d; stderr: %r" %
                             (what + ": " if what else "", r.returncode, rc,
                              r.stderr[-800:]))


def expect_stderr(r, *words):
    for w in words:
        if w not in r.stderr:
            raise AssertionError("%r not in stderr %r" % (w, r.stderr))


def free_port():
    return alloc_ports(1)[0]


def silent_tcp_server(read=True):
    """A TCP listener on 127.0.0.1 whose connections are accepted and
    never answered (and, if not read, never read either)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    defer(ls.close)
    conns = []
    stop = threading.Event()

    def run():
        while not stop.is_set():
            r, _, _ = select.select([ls] + (conns if read else []), [], [],
                                    0.1)
            for s in r:
                if s is ls:
                    c, _ = ls.accept()
                    conns.append(c)
                else:
                    try:
                        s.recv(1 << 20)
                    except OSError:
                        pass

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def finish():
        stop.set()
        t.join(2)
        for c in conns:
            c.close()
    defer(finish)
    return ls.getsockname()[1]


def scripted_tcp_server(script):
    """A TCP listener on 127.0.0.1; its first connection is handed to
    script(conn) in a thread.  Returns the port."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    defer(ls.close)

    def run():
        try:
            c, _ = ls.accept()
        except OSError:
            return
        with c:
            try:
                script(c)
            except OSError:
                pass

    threading.Thread(target=run, daemon=True).start()
    return ls.getsockname()[1]


def read_until_eof(c, limit=64 * MiB):
    buf = bytearray()
    c.settimeout(20)
    while len(buf) < limit:
        chunk = c.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


# --- command line ------------------------------------------------------------

def test_help_and_version():
    r = client(["--help"])
    expect_rc(r, 0, "--help")
    out = r.stdout.decode()
    for w in ("usage: upcase", "-u, --udp", "-w, --wait", "Exit status",
              "69", "75"):
        assert w in out, "%r not in --help output" % w
    r = client(["-V"])
    expect_rc(r, 0, "-V")
    assert r.stdout.startswith(b"upcase "), r.stdout


def test_usage_errors():
    cases = [["--bogus"], ["-x"], ["-w"], ["-w", "abc"], ["-w", "0"],
             ["-s", "100"], ["-u", "-s", "0"], ["-u", "-s", "65508"],
             ["-4", "-6"], ["localhost", "0"], ["localhost", "65536"],
             ["a", "1", "extra"], ["-u", "-e", "quit"],
             ["--length=sometimes"], ["-e", "x" * 64]]
    for args in cases:
        r = client(args)
        expect_rc(r, EX_USAGE, " ".join(args))
        assert "upcase: " in r.stderr, (args, r.stderr)


def test_cannot_open_input():
    r = client(["-f", "/nonexistent/input", "127.0.0.1", "1"])
    expect_rc(r, EX_NOINPUT)
    expect_stderr(r, "/nonexistent/input")
    r = client(["-f", tmpdir(), "127.0.0.1", "1"])
    expect_rc(r, EX_NOINPUT, "a directory")


def test_cannot_resolve():
    r = client([NO_SUCH_HOST, "8008"])
    expect_rc(r, EX_NOHOST)
    expect_stderr(r, "cannot resolve")
    # a literal of the other family cannot be resolved either
    r = client(["-6", "127.0.0.1", "8008"])
    expect_rc(r, EX_NOHOST, "-6 127.0.0.1")


def test_connection_refused_keeps_output():
    port = free_port()
    d = tmpdir()
    out = os.path.join(d, "out")
    with open(out, "wb") as f:
        f.write(b"precious")
    r = client(["-o", out, "127.0.0.1", port], input=b"hello\n")
    expect_rc(r, EX_UNAVAILABLE)
    expect_stderr(r, "Connection refused", "127.0.0.1 port %d" % port)
    with open(out, "rb") as f:
        assert f.read() == b"precious", "a refused connection truncated -o"


@timeout(20)
def test_connect_timeout():
    # A listener whose accept queue is full drops further SYNs.
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    defer(ls.close)
    port = ls.getsockname()[1]
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        defer(c.close)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
    time.sleep(0.2)
    t0 = time.monotonic()
    r = client(["-w", "1", "127.0.0.1", port], input=b"x\n")
    took = time.monotonic() - t0
    expect_rc(r, EX_TEMPFAIL)
    expect_stderr(r, "timed out")
    assert took < 5, "connect timeout of 1 s took %.1f s" % took


def test_cannot_create_output():
    dm = Daemon(conf())
    r = client(["-o", "/nonexistent/out", "127.0.0.1", dm.port],
               input=b"x\n")
    expect_rc(r, EX_CANTCREAT)
    expect_stderr(r, "/nonexistent/out")


def test_output_is_input():
    dm = Daemon(conf())
    path = os.path.join(tmpdir(), "same")
    with open(path, "wb") as f:
        f.write(b"abc\n")
    r = client(["-f", path, "-o", path, "127.0.0.1", dm.port])
    expect_rc(r, EX_USAGE)
    with open(path, "rb") as f:
        assert f.read() == b"abc\n", "the input was overwritten"


# --- streaming over TCP ------------------------------------------------------

def test_stream_pipe_all_byte_values():
    dm = Daemon(conf())
    data = (ALL_BYTES * 257 + "hello, world, \u00e9t\u00e9\n".encode()) * 9
    r = client(["127.0.0.1", dm.port], input=data)
    expect_rc(r, 0)
    check_bytes(r.stdout, upper_unicode(data))
    assert r.stderr == "", r.stderr


def test_stream_file_in_out():
    dm = Daemon(conf())
    d = tmpdir()
    src, dst = os.path.join(d, "in"), os.path.join(d, "OUT")
    data = (harness.random_bytes(MiB + 17, seed=1) + ALL_BYTES +
            "\u0131\u017f \u0250\u0251 \u00df\n".encode() * 1000)
    with open(src, "wb") as f:
        f.write(data)
    r = client(["-q", "-f", src, "-o", dst, "127.0.0.1", dm.port])
    expect_rc(r, 0)
    assert r.stdout == b""
    with open(dst, "rb") as f:
        check_bytes(f.read(), upper_unicode(data))


def test_stream_empty_input():
    dm = Daemon(conf())
    r = client(["127.0.0.1", dm.port], stdin=subprocess.DEVNULL)
    expect_rc(r, 0)
    assert r.stdout == b""


@timeout(60)
def test_stream_pipes_both_ways_no_deadlock():
    """32 MiB through pipes on both sides, the reader of the output much
    slower at first: the client must keep both directions moving."""
    dm = Daemon(conf(transform="ascii"))
    data = harness.fill_random_lower(32 * MiB, seed=2)
    p = subprocess.Popen([UPCASE, "127.0.0.1", str(dm.port)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=harness.clean_env())
    harness._procs.append(p)
    err = {}

    def feed():
        try:
            p.stdin.write(data)
            p.stdin.close()
        except OSError as e:
            err["feed"] = e
    t = threading.Thread(target=feed, daemon=True)
    t.start()
    time.sleep(1.0)           # nobody reads the output meanwhile
    got = p.stdout.read()
    rc = p.wait(timeout=30)
    t.join(5)
    assert not err, err
    assert rc == 0, "exit status %r; stderr %r" % (rc, p.stderr.read())
    p.stderr.close()
    p.stdout.close()
    check_bytes(got, upper(data))


def _write_random_file(path, size):
    """size random bytes (every byte value, in 1 MiB pieces)."""
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, MiB)
            f.write(os.urandom(n))
            left -= n


def _compare_files(src, dst, size):
    """dst == upper(src), read a chunk at a time."""
    with open(src, "rb") as a, open(dst, "rb") as b:
        off = 0
        while True:
            x = a.read(4 * MiB)
            y = b.read(len(x)) if x else b.read(1)
            if not x:
                assert not y, "output longer than the input"
                break
            check_bytes(y, upper(x), "output at offset %d" % off)
            off += len(x)
    assert off == size, (off, size)


@timeout(60)
def test_stream_256_mib_file():
    """Random bytes (every byte value) through transform = "ascii", so
    that the expected answer is a bytes.translate() away."""
    size = 256 * MiB
    dm = Daemon(conf(transform="ascii"))
    d = tmpdir()
    src, dst = os.path.join(d, "big.log"), os.path.join(d, "BIG.LOG")
    _write_random_file(src, size)
    t0 = time.monotonic()
    r = client(["-f", src, "-o", dst, "127.0.0.1", dm.port], timeout=45)
    secs = time.monotonic() - t0
    expect_rc(r, 0)
    assert os.path.getsize(dst) == size, os.path.getsize(dst)
    _compare_files(src, dst, size)
    diag("upcase -f 256 MiB: %.0f MB/s (%.0f MiB/s, %.2f s; random "
         "bytes, transform ascii)" % (size / secs / 1e6, size / secs / MiB,
                                      secs))


UNICODE_TEXT = ("The quick brown fox, \u00e9t\u00e9 \u00e0 Paris; "
                "\u0131\u015f\u0131k \u0131 (Turkish: the dotless i shrinks); "
                "\u03b1\u03b2\u03b3 \u0436\u0438\u0437\u043d\u044c; "
                "\u0250\u0251 (they grow); \u00df stays; "
                "\u65e5\u672c\u8a9e \U0001f600\n").encode()


@timeout(60)
def test_stream_256_mib_unicode_text():
    """UTF-8 text through the default transform: the answer is shorter
    or longer than the input, which --length=auto accepts with a note."""
    block = UNICODE_TEXT * 4096
    exp_block = upper_unicode(block)
    assert len(exp_block) != len(block)
    dm = Daemon(conf())
    # ThreadSanitizer slows the decoder tenfold: a smaller file then
    mib = 32 if dm.sanitizer() == "tsan" else 256
    reps = mib * MiB // len(block)
    size = reps * len(block)
    d = tmpdir()
    src, dst = os.path.join(d, "text"), os.path.join(d, "TEXT")
    with open(src, "wb") as f:
        for _ in range(reps):
            f.write(block)
    t0 = time.monotonic()
    r = client(["-f", src, "-o", dst, "127.0.0.1", dm.port], timeout=45)
    secs = time.monotonic() - t0
    expect_rc(r, 0)
    expect_stderr(r, "note: %d bytes sent, %d received" %
                  (size, reps * len(exp_block)))
    with open(dst, "rb") as f:
        for i in range(reps):
            check_bytes(f.read(len(exp_block)), exp_block,
                        "answer block %d" % i)
        assert f.read(1) == b"", "answer longer than expected"
    diag("upcase -f %d MiB: %.0f MB/s (%.0f MiB/s, %.2f s; UTF-8 text, "
         "transform unicode)" % (mib, size / secs / 1e6, size / secs / MiB,
                                 secs))


def test_short_transfer_exit_line():
    dm = Daemon(conf())
    r = client(["127.0.0.1", dm.port], input=b"one\ntwo\nexit\nthree\n")
    expect_rc(r, EX_SHORT)
    check_bytes(r.stdout, b"ONE\nTWO\n")
    expect_stderr(r, "short transfer", "line 3", '"exit"', "19 bytes sent",
                  "8 received")


@timeout(30)
def test_short_transfer_exit_line_in_big_stream():
    """The exit line early in 16 MiB: the server ends the session while we
    still send; the client stops, says so, and does not hang."""
    dm = Daemon(conf())
    head = b"abc\n" * 1000
    data = head + b"exit\r\n" + harness.fill_random_lower(16 * MiB, seed=3)
    r = client(["127.0.0.1", dm.port], input=data, timeout=25)
    expect_rc(r, EX_SHORT)
    check_bytes(r.stdout, upper(head))
    expect_stderr(r, "short transfer", "line 1001")


def test_exit_command_option():
    dm = Daemon(conf(exit_command="quit"))
    data = b"exit\nsome text\n"
    r = client(["-e", "quit", "127.0.0.1", dm.port], input=data)
    expect_rc(r, 0, "exit is no command for this server")
    check_bytes(r.stdout, upper(data))
    r = client(["-e", "quit", "127.0.0.1", dm.port],
               input=b"a\nquit\nb\n")
    expect_rc(r, EX_SHORT)
    expect_stderr(r, "line 2", '"quit"')


def _shortening_server(drop):
    """A server that reads to EOF, answers all of it but the last drop
    bytes (as a transform that shortens text might), and closes."""
    def script(c):
        data = read_until_eof(c)
        c.sendall(upper(data[:len(data) - drop]))
        c.shutdown(socket.SHUT_WR)
        read_until_eof(c)
    return scripted_tcp_server(script)


def test_length_with_the_unicode_transform():
    dm = Daemon(conf())
    data = "d\u0131\u015f \u0131\u015f\u0131k\n".encode()
    r = client(["127.0.0.1", dm.port], input=data)
    expect_rc(r, 0)
    check_bytes(r.stdout, upper_unicode(data))
    assert len(r.stdout) < len(data)
    expect_stderr(r, "note: 14 bytes sent, 11 received")
    r = client(["--length=exact", "127.0.0.1", dm.port], input=data)
    expect_rc(r, EX_SHORT, "--length=exact")
    expect_stderr(r, "short transfer: 14 bytes sent, 11 received")


def test_length_modes():
    ascii_in = b"plain ascii text\n"
    utf8_in = "d\u0131\u015f \u0131\u015f\u0131k\n".encode()  # dotless i
    cases = [  # (input, args, expected status, word in stderr)
        (ascii_in, [], EX_SHORT, "short transfer"),
        (utf8_in, [], 0, "note:"),
        (utf8_in, ["-q"], 0, None),
        (utf8_in, ["--length=exact"], EX_SHORT, "short transfer"),
        (ascii_in, ["--length=any"], 0, "note:"),
    ]
    for data, args, rc, word in cases:
        port = _shortening_server(1)
        r = client(args + ["127.0.0.1", port], input=data)
        expect_rc(r, rc, "%r %r" % (args, data))
        if word:
            expect_stderr(r, word)
        else:
            assert r.stderr == "", r.stderr


def test_reset_by_server():
    def script(c):
        c.recv(10)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
    port = scripted_tcp_server(script)
    r = client(["127.0.0.1", port], input=b"x" * MiB)
    expect_rc(r, EX_IOERR)
    expect_stderr(r, "reset")


@timeout(20)
def test_stalled_server_times_out():
    for read in (False, True):     # never reads / reads but never answers
        port = silent_tcp_server(read=read)
        t0 = time.monotonic()
        r = client(["-w", "1", "127.0.0.1", port],
                   input=b"y" * (8 * MiB), timeout=15)
        took = time.monotonic() - t0
        expect_rc(r, EX_TEMPFAIL, "read=%r" % read)
        expect_stderr(r, "no answer")
        assert took < 6, "-w 1 took %.1f s" % took


def test_ipv4_and_ipv6():
    if not ipv6_available():
        raise Skip("no IPv6 on this machine")
    dm = Daemon(conf(bind='[ "127.0.0.1", "::1" ]'))
    for args in (["-4", "127.0.0.1"], ["-6", "::1"], ["::1"]):
        r = client(args + [dm.port], input=b"v4 or v6\n")
        expect_rc(r, 0, " ".join(args))
        check_bytes(r.stdout, b"V4 OR V6\n")
    r = client(["-4", "::1", dm.port], input=b"x\n")
    expect_rc(r, EX_NOHOST, "-4 ::1")


def test_progress_on_a_terminal():
    dm = Daemon(conf())
    d = tmpdir()
    src = os.path.join(d, "in")
    _write_random_file(src, 24 * MiB)
    outs = {}
    for args in ([], ["-q"]):
        master, slave = os.openpty()
        try:
            p = subprocess.Popen([UPCASE] + args +
                                 ["-f", src, "-o", os.devnull, "127.0.0.1",
                                  str(dm.port)], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=slave,
                                 env=harness.clean_env())
            harness._procs.append(p)
            os.close(slave)
            slave = None
            text = _pty_read_all(master, 20)
            rc = p.wait(timeout=10)
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        assert rc == 0, (args, rc, text)
        outs[" ".join(args)] = text
    assert "MiB sent" in outs[""] and "MiB/s" in outs[""], outs[""]
    assert outs["-q"] == "", outs["-q"]


# --- interactive: a pty ------------------------------------------------------

def _pty_read_all(fd, limit):
    """Everything until the slave side is closed (EIO), as text."""
    buf = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError as e:
            if e.errno == errno.EIO:
                break
            raise
        if not chunk:
            break
        buf += chunk
    return buf.decode("utf-8", "replace")


class Terminal:
    """upcase on a pty: its stdin, stdout and stderr are the slave."""

    def __init__(self, args):
        self.master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] |= termios.ICANON | termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.proc = subprocess.Popen([UPCASE] + [str(a) for a in args],
                                     stdin=slave, stdout=slave,
                                     stderr=slave, env=harness.clean_env(),
                                     start_new_session=True)
        harness._procs.append(self.proc)
        os.close(slave)
        self.out = b""
        defer(self.close)

    def close(self):
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def type(self, data):
        os.write(self.master, data)

    def _read(self, wait):
        r, _, _ = select.select([self.master], [], [], wait)
        if not r:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError as e:
            if e.errno == errno.EIO:    # the client is gone
                return None
            raise
        if not chunk:
            return None
        self.out += chunk
        return True

    def expect(self, text, wait=5.0):
        """Wait until text appears in what the terminal shows."""
        deadline = time.monotonic() + wait
        while text.encode() not in self.out:
            left = deadline - time.monotonic()
            if left <= 0 or self._read(left) is None:
                raise AssertionError("%r not on the terminal; it shows %r" %
                                     (text, self.out[-600:]))

    def finish(self, wait=5.0):
        """Read until the client exits; its exit status."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self._read(0.1) is None:
                break
        rc = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        self.text()                       # sanitizer reports
        return rc

    def text(self):
        text = self.out.decode("utf-8", "replace")
        no_sanitizer_report(text)
        return text


@timeout(30)
def test_interactive_answers_as_you_type_then_ctrl_d():
    dm = Daemon(conf())
    t = Terminal(["127.0.0.1", dm.port])
    t.expect("connected to 127.0.0.1 port %d" % dm.port)
    t.expect("Ctrl-D")
    t.type(b"hello there\n")
    t.expect("HELLO THERE")           # before anything more is typed
    t.type(b"second line\n")
    t.expect("SECOND LINE")
    # A partial line: upcased holds "exi" (it may still be "exit") until
    # the line is decided; our FIN decides it, and the answer must still
    # be printed after Ctrl-D.
    t.type(b"exi")
    time.sleep(0.2)
    t.type(b"\x04")                   # hands "exi" to read() as it is
    time.sleep(0.2)
    assert b"EXI" not in t.out, "the server answered a held line early?"
    t.type(b"\x04")                   # end of input: half-close
    rc = t.finish()
    assert rc == 0, "exit status %r; terminal: %r" % (rc, t.text())
    assert "EXI" in t.text(), t.text()


@timeout(30)
def test_interactive_exit_command():
    dm = Daemon(conf())
    t = Terminal(["127.0.0.1", dm.port])
    t.expect("Ctrl-D")
    t.type(b"one\n")
    t.expect("ONE")
    t.type(b"exit\n")
    rc = t.finish()
    assert rc == 0, "exit status %r; terminal: %r" % (rc, t.text())
    assert "upcase: " not in t.text().split("Ctrl-D", 1)[1], t.text()


@timeout(30)
def test_interactive_server_goes_away():
    dm = Daemon(conf())
    t = Terminal(["127.0.0.1", dm.port])
    t.expect("Ctrl-D")
    t.type(b"still there?\n")
    t.expect("STILL THERE?")
    dm.kill()
    rc = t.finish()
    assert rc not in (0, None), "exit status %r; terminal %r" % (rc,
                                                                  t.text())
    assert "closed by 127.0.0.1" in t.text() or "reset" in t.text(), \
        t.text()


@timeout(30)
def test_interactive_prints_unprompted_data():
    """No lock-step: what the server sends is shown while nothing is
    typed."""
    go = threading.Event()

    def script(c):
        c.sendall(b"first news\n")
        go.wait(10)
        c.sendall(b"more news\n")
        read_until_eof(c)
    port = scripted_tcp_server(script)
    t = Terminal(["127.0.0.1", port])
    t.expect("first news")
    go.set()
    t.expect("more news")
    t.type(b"\x04")
    rc = t.finish()
    assert rc == 0, (rc, t.text())


@timeout(30)
def test_interactive_udp():
    dm = Daemon(conf(workers=1))
    t = Terminal(["-u", "127.0.0.1", dm.port])
    t.expect("Ctrl-D")
    t.type(b"datagram one\n")
    t.expect("DATAGRAM ONE")
    t.type(b"two\n")
    t.expect("TWO")
    t.type(b"\x04")
    rc = t.finish()
    assert rc == 0, (rc, t.text())


# --- UDP --------------------------------------------------------------------

def test_udp_lines():
    dm = Daemon(conf(workers=1))     # one worker: replies in order
    data = ("one\ntwo\n\nthree \u00e9t\u00e9 \u0250\n"
            "last line, no newline").encode()
    r = client(["-u", "127.0.0.1", dm.port], input=data)
    expect_rc(r, 0)
    check_bytes(r.stdout, upper_unicode(data, grow=False) + b"\n")


def test_udp_many_lines_any_order():
    dm = Daemon(conf(workers=2, udp_rate=0))
    lines = [b"line %d of many" % i for i in range(3000)]
    r = client(["-u", "127.0.0.1", dm.port], input=b"\n".join(lines))
    expect_rc(r, 0)
    got = r.stdout.split(b"\n")
    assert got[-1] == b""
    assert sorted(got[:-1]) == sorted(upper(l) for l in lines)


def test_udp_chunks():
    dm = Daemon(conf(workers=1, udp_rate=0))
    data = harness.random_bytes(300000, seed=4)
    for size in (1, 1000, 65507):
        piece = data if size > 1 else data[:2000]
        r = client(["-u", "-s", size, "127.0.0.1", dm.port], input=piece)
        expect_rc(r, 0, "-s %d" % size)
        exp = b"".join(upper_unicode(piece[i:i + size], grow=False)
                       for i in range(0, len(piece), size))
        check_bytes(r.stdout, exp, "-s %d" % size)


@timeout(20)
def test_udp_replies_lost():
    # A socket that is bound but never answers: no ICMP, just silence.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    defer(s.close)
    t0 = time.monotonic()
    r = client(["-u", "-w", "1", "127.0.0.1", s.getsockname()[1]],
               input=b"a\nb\n")
    took = time.monotonic() - t0
    expect_rc(r, EX_TEMPFAIL)
    expect_stderr(r, "2 of 2 datagrams got no reply within 1 s")
    assert 0.9 < took < 5, took


@timeout(20)
def test_udp_port_unreachable():
    port = free_port()
    r = client(["-u", "-w", "1", "127.0.0.1", port], input=b"a\nb\n")
    expect_rc(r, EX_UNAVAILABLE)
    expect_stderr(r, "port unreachable")


def test_udp_line_too_long():
    dm = Daemon(conf())
    r = client(["-u", "127.0.0.1", dm.port],
               input=b"short\n" + b"z" * 70000 + b"\n")
    expect_rc(r, EX_DATAERR)
    expect_stderr(r, "line 2", "-s SIZE")


if __name__ == "__main__":
    harness.run_tests(globals())
