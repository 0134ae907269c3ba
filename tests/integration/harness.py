"""Integration test harness for upcased: a TAP runner, a Daemon wrapper and
small socket clients.  Python 3 standard library only.

A test file defines functions named test_* and ends with

    if __name__ == "__main__":
        harness.run_tests(globals())

Each test runs under a SIGALRM time bound, and every process it started is
killed when it ends, pass or fail.  Diagnostics recorded with diag() are
printed as TAP comments after the test's result line; a failing test also
gets its traceback and the stderr tail of each daemon it started.

Environment: UPCASED_BIN (the daemon binary), UPCASED_SRCDIR (source root).
"""

import atexit
import fcntl
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SRCDIR = os.environ.get("UPCASED_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.environ.get("UPCASED_BIN") or os.path.join(SRCDIR, "src", "upcased")

EX_USAGE = 64
EX_OSERR = 71
EX_CONFIG = 78

LOCAL4 = "127.0.0.1"
LOCAL6 = "::1"

# a-z -> A-Z, every other byte unchanged
UPPER = bytes.maketrans(bytes(range(ord("a"), ord("z") + 1)),
                        bytes(range(ord("A"), ord("Z") + 1)))


def upper(data):
    """The "ascii" transform."""
    return bytes(data).translate(UPPER)


_UNICODE_TABLE = None


def _unicode_table():
    """Simple uppercase mapping from tests/data/unicode (Unicode 13, plus
    the mappings newer Unicode added: the daemon's tables are newer)."""
    global _UNICODE_TABLE
    if _UNICODE_TABLE is None:
        table = {}
        for name in ("upper-table-u13.tsv", "newer-unicode.tsv"):
            path = os.path.join(SRCDIR, "tests", "data", "unicode", name)
            with open(path) as f:
                for line in f:
                    if line.startswith("#") or not line.strip():
                        continue
                    lo, up = line.split()[:2]
                    table[int(lo, 16)] = int(up, 16)
        _UNICODE_TABLE = table
    return _UNICODE_TABLE


def upper_unicode(data, grow=True):
    """The "unicode" transform: each valid UTF-8 character gets its simple
    uppercase, every other byte is unchanged.  grow=False is the UDP rule:
    a character whose uppercase needs more bytes stays as it is.  Python's
    strict decoder with surrogateescape splits valid and invalid bytes
    exactly as the daemon does."""
    table = _unicode_table()
    out = []
    for ch in bytes(data).decode("utf-8", "surrogateescape"):
        c = ord(ch)
        if 0xDC80 <= c <= 0xDCFF:           # an invalid byte, escaped
            out.append(ch)
            continue
        u = chr(table.get(c, c))
        if not grow and len(u.encode()) > len(ch.encode()):
            u = ch
        out.append(u)
    return "".join(out).encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------
# TAP runner
# ---------------------------------------------------------------------------

class Skip(Exception):
    """Raise to report the current test as skipped."""


class TestTimeout(Exception):
    pass


_diags = []          # diagnostics of the current test
_procs = []          # processes started by the current test
_daemons = []        # Daemon objects of the current test
_cleanups = []       # callables to run when the current test ends


def diag(msg):
    """Record a TAP diagnostic for the current test."""
    for line in str(msg).splitlines() or [""]:
        _diags.append(line)


def defer(fn):
    """Run fn() when the current test ends (after it passed or failed)."""
    _cleanups.append(fn)


def timeout(seconds):
    """Decorator: the time bound of one test (default 60 s)."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


def _alarm(signum, frame):
    raise TestTimeout("test timed out (SIGALRM)")


def _sigterm(signum, frame):
    raise SystemExit(1)


def _kill_all():
    for d in list(_daemons):
        try:
            d.kill()
        except Exception:
            pass
    for p in list(_procs):
        try:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=5)
        except Exception:
            pass


atexit.register(_kill_all)


SANITIZER_RE = re.compile(
    r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|WARNING: ThreadSanitizer"
    r"|runtime error: |ERROR: LeakSanitizer")


def _finish_daemons():
    """Stop every daemon of the test that still runs; returns problems."""
    problems = []
    for d in _daemons:
        if d.proc is None:
            continue
        if d.proc.poll() is None:
            try:
                rc = d.stop(timeout=6)
            except AssertionError as e:
                problems.append("pid %d: %s" % (d.pid, e))
            else:
                if rc != 0:
                    problems.append("pid %d: exit status %d on SIGTERM" %
                                    (d.pid, rc))
        text = d.stderr_all()
        m = SANITIZER_RE.search(text)
        if m:
            lines = text[m.start():].splitlines()[:30]
            problems.append("pid %d: sanitizer report on stderr:" % d.pid)
            problems.extend("  " + l for l in lines)
    return problems


def _emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run_tests(namespace, default_timeout=60):
    """Run every test_* function of namespace in definition order as TAP
    (only those whose name contains $HARNESS_ONLY, if that is set)."""
    only = os.environ.get("HARNESS_ONLY")   # by hand: a name's substring
    tests = [(name, fn) for name, fn in namespace.items()
             if name.startswith("test_") and callable(fn) and
             (not only or only in name)]
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        soft, hard = __import__("resource").getrlimit(
            __import__("resource").RLIMIT_NOFILE)
        want = min(hard, 8192) if hard != -1 else 8192
        if soft != -1 and soft < want:
            __import__("resource").setrlimit(
                __import__("resource").RLIMIT_NOFILE, (want, hard))
    except Exception:
        pass
    _emit("1..%d" % len(tests))
    failed = 0
    t_file = time.monotonic()
    for num, (name, fn) in enumerate(tests, 1):
        del _diags[:]
        del _procs[:]
        del _daemons[:]
        del _cleanups[:]
        status = "ok"
        directive = ""
        fail_diags = []
        t0 = time.monotonic()
        signal.alarm(getattr(fn, "timeout", default_timeout))
        try:
            if not os.access(BIN, os.X_OK):
                raise AssertionError("UPCASED_BIN %r is not executable" % BIN)
            fn()
        except Skip as e:
            directive = " # SKIP %s" % e
        except BaseException as e:  # noqa: B902 - report everything
            status = "not ok"
            fail_diags.extend(traceback.format_exc().rstrip().splitlines())
            if isinstance(e, KeyboardInterrupt):
                raise
        finally:
            signal.alarm(0)
        # cleanup (also bounded): close the test's sockets, then stop the
        # daemons it left running as a service manager would (SIGTERM:
        # exit 0 expected), and look for sanitizer reports
        signal.alarm(30)
        try:
            for fn_c in reversed(_cleanups):
                try:
                    fn_c()
                except Exception:
                    pass
            problems = [] if directive else _finish_daemons()
            if problems and status == "ok":
                status = "not ok"
                fail_diags.append("at the end of the test:")
                fail_diags.extend("  " + p for p in problems)
            if status != "ok":
                for d in _daemons:
                    fail_diags.extend(d.describe())
            _kill_all()
            for d in _daemons:
                d.cleanup()
        except TestTimeout:
            fail_diags.append("cleanup timed out")
        finally:
            signal.alarm(0)
        elapsed = time.monotonic() - t0
        if status != "ok":
            failed += 1
        _emit("%s %d - %s%s" % (status, num, name, directive))
        for line in _diags:
            _emit("# " + line)
        for line in fail_diags:
            _emit("# " + line)
        _emit("# %s took %.2f s" % (name, elapsed))
    _emit("# %d of %d tests failed; %.1f s in all" %
          (failed, len(tests), time.monotonic() - t_file))
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------------------
# ports and kernel socket tables
# ---------------------------------------------------------------------------

def ipv6_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind((LOCAL6, 0))
        s.close()
        return True
    except OSError:
        return False


def _bind_any(kind, port):
    """Bind a socket of kind on port for every address (dual stack)."""
    if ipv6_available():
        s = socket.socket(socket.AF_INET6, kind)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
    else:
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("0.0.0.0", port))
    return s


def alloc_ports(n):
    """n distinct port numbers that are free for both TCP and UDP now."""
    ports = []
    held = []
    try:
        tries = 0
        while len(ports) < n:
            tries += 1
            if tries > 200:
                raise RuntimeError("cannot find %d free ports" % n)
            t = _bind_any(socket.SOCK_STREAM, 0)
            port = t.getsockname()[1]
            try:
                u = _bind_any(socket.SOCK_DGRAM, port)
            except OSError:
                t.close()
                continue
            held += [t, u]
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _proc_net(names):
    """Rows (local_port, remote_port, state, inode) of /proc/net/<names>."""
    rows = []
    for name in names:
        try:
            with open("/proc/net/" + name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10:
                continue
            lport = int(parts[1].rsplit(":", 1)[1], 16)
            rport = int(parts[2].rsplit(":", 1)[1], 16)
            rows.append((lport, rport, parts[3], parts[9]))
    return rows


TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV",
              "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
              "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK",
              "0A": "LISTEN", "0B": "CLOSING"}


def tcp_states(port):
    """Names of the TCP states of sockets whose local port is port."""
    return [TCP_STATES.get(st, st) for lport, _, st, _ in
            _proc_net(["tcp", "tcp6"]) if lport == port]


def tcp_listening(port):
    return "LISTEN" in tcp_states(port)


def udp_bound(port):
    return any(lport == port for lport, _, _, _ in
               _proc_net(["udp", "udp6"]))


def wait_for(pred, timeout, interval=0.02):
    """Poll pred() until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------

def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def tcp_connect(port, host=LOCAL4, timeout=5.0, nodelay=True):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    defer(s.close)
    return s


# Linux: let connect() pick the source port, so a client bound to an
# address shares ports with other 4-tuples (no ephemeral-port exhaustion
# when thousands of clients bind the same source address).
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def connect_from(src, port, host=LOCAL4, timeout=5.0, nodelay=True,
                 blocking=True, track=True):
    """A TCP connection from source address src (127.0.0.0/8 is all
    loopback: distinct sources without a namespace; None: any), its port
    chosen at connect time.  Closed when the test ends (track=True)."""
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    try:
        if src is not None:
            if s.family == socket.AF_INET:
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((src, 0))
        s.settimeout(timeout)
        s.connect((host, port))
        if nodelay:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not blocking:
            s.setblocking(False)
    except BaseException:
        s.close()
        raise
    if track:
        defer(s.close)
    return s


def recv_exact(sock, n, timeout=10.0):
    """Read exactly n bytes; AssertionError on EOF or timeout before."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    old = sock.gettimeout()
    try:
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    "timeout: got %d of %d bytes; tail %r" %
                    (len(buf), n, bytes(buf[-64:])))
            sock.settimeout(left)
            try:
                chunk = sock.recv(min(n - len(buf), 1 << 20))
            except socket.timeout:
                continue
            except ConnectionResetError:
                raise AssertionError(
                    "connection reset after %d of %d bytes; tail %r" %
                    (len(buf), n, bytes(buf[-64:])))
            if not chunk:
                raise AssertionError(
                    "EOF after %d of %d bytes; tail %r" %
                    (len(buf), n, bytes(buf[-64:])))
            buf += chunk
    finally:
        sock.settimeout(old)
    return bytes(buf)


def recv_until_eof(sock, timeout=10.0, limit=1 << 30, allow_reset=False):
    """Read until EOF.  Returns the bytes; AssertionError on timeout."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    old = sock.gettimeout()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    "no EOF within %.1f s; got %d bytes; tail %r" %
                    (timeout, len(buf), bytes(buf[-64:])))
            sock.settimeout(left)
            try:
                chunk = sock.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                if allow_reset:
                    return bytes(buf)
                raise AssertionError(
                    "connection reset (not a clean EOF) after %d bytes; "
                    "tail %r" % (len(buf), bytes(buf[-64:])))
            if not chunk:
                return bytes(buf)
            buf += chunk
            if len(buf) > limit:
                raise AssertionError("more than %d bytes before EOF" % limit)
    finally:
        sock.settimeout(old)


def expect_eof(sock, timeout=5.0, allow_reset=False):
    rest = recv_until_eof(sock, timeout, limit=1 << 20,
                          allow_reset=allow_reset)
    if rest:
        raise AssertionError("expected EOF, got %d more bytes: %r" %
                             (len(rest), rest[:200]))


def expect_silence(sock, wait=0.3):
    """Assert that nothing arrives (and no EOF) within wait seconds."""
    r, _, _ = select.select([sock], [], [], wait)
    if r:
        try:
            sock.setblocking(False)
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionResetError:
            raise AssertionError("connection was reset")
        finally:
            sock.setblocking(True)
        if not data:
            raise AssertionError("connection was closed (EOF)")
        raise AssertionError("unexpected data: %r" % data[:200])


def closed_unanswered(sock, timeout=3.0):
    """True if the server closed sock (EOF or reset) without sending a
    byte within timeout; False if it is still open (or sent data).  Polls
    (any descriptor number) and leaves the socket's timeout and blocking
    mode as they are."""
    p = select.poll()
    p.register(sock, select.POLLIN)
    if not p.poll(max(0, int(timeout * 1000))):
        return False
    try:
        data = sock.recv(16, socket.MSG_DONTWAIT)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (BlockingIOError, InterruptedError):
        return False
    return data == b""


def check_bytes(got, exp, what="reply"):
    """Assert got == exp with a concise description of the difference."""
    if got == exp:
        return
    n = min(len(got), len(exp))
    i = next((k for k in range(n) if got[k] != exp[k]), n)
    raise AssertionError(
        "%s differs: got %d bytes, expected %d; first difference at "
        "offset %d: got %r, expected %r" %
        (what, len(got), len(exp), i, got[max(0, i - 8):i + 24],
         exp[max(0, i - 8):i + 24]))


def tcp_echo(sock, data, timeout=10.0):
    """Send data, read back len(data) bytes, check it is upper(data)."""
    sock.sendall(data)
    got = recv_exact(sock, len(data), timeout)
    check_bytes(got, upper(data))
    return got


def udp_socket(host=LOCAL4, bind_port=0, bind_host=None):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    s.bind((bind_host or host, bind_port))
    defer(s.close)
    return s


def udp_exchange(port, data, host=LOCAL4, timeout=2.0, sock=None):
    """Send one datagram from sock (or a fresh one) to host:port.  Returns
    the reply, or None if nothing came within timeout.  The reply must come
    from host:port (checked)."""
    s = sock or udp_socket(host)
    s.sendto(data, (host, port))
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return None
        try:
            reply, addr = s.recvfrom(70000)
        except ConnectionRefusedError:
            # ICMP port unreachable from an earlier send: nobody listens
            return None
        if addr[1] != port or socket.inet_pton(family_of(host), addr[0]) \
                != socket.inet_pton(family_of(host), host):
            raise AssertionError("reply came from %r, not %s port %d" %
                                 (addr, host, port))
        return reply


def tcp_refused(port, host=LOCAL4, timeout=2.0):
    """True if a TCP connect to host:port is refused."""
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


def fill_random_lower(n, seed=None):
    """n pseudo-random bytes, mostly lowercase letters (so upcasing shows)."""
    rnd = random.Random(seed)
    block = bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz0123456789 ,.-\x00"
                             b"\xe9\xff") for _ in range(4093))
    reps = n // len(block) + 1
    return (block * reps)[:n]


def random_bytes(n, seed=None):
    rnd = random.Random(seed)
    return rnd.randbytes(n)


# ---------------------------------------------------------------------------
# config text
# ---------------------------------------------------------------------------

def cstr(s):
    """A libconfig string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def conf(tcp="[ {P0} ]", udp="[ {P0} ]", bind='"127.0.0.1"', udp_bind=None,
         workers=2, exit_command="exit", limits=None, level="info",
         extra="", transform=None, udp_rate=None):
    """Config text; {P0}, {P1}... are replaced by the Daemon's ports."""
    lines = []
    if workers is not None:
        lines.append("workers = %d;" % workers)
    if transform is not None:
        lines.append("transform = %s;" % cstr(transform))
    if tcp is not None:
        lines.append("tcp = { ports = %s; bind = %s; };" % (tcp, bind))
    if udp is not None:
        lines.append("udp = { ports = %s; bind = %s;%s };" %
                     (udp, udp_bind if udp_bind is not None else bind,
                      "" if udp_rate is None else
                      " rate_limit = %d;" % udp_rate))
    if exit_command is not None:
        lines.append("exit_command = %s;" % cstr(exit_command))
    if limits:
        lines.append("limits = { %s };" % " ".join(
            "%s = %s;" % kv for kv in limits.items()))
    if level is not None:
        lines.append("log = { level = %s; };" % cstr(level))
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def run_bin(args, timeout=10, env=None, input=None):
    """Run the daemon binary to completion; returns CompletedProcess
    (stdout and stderr as text)."""
    e = clean_env()
    if env:
        e.update(env)
    return subprocess.run([BIN] + list(args), stdin=subprocess.DEVNULL
                          if input is None else None, input=input,
                          capture_output=True, timeout=timeout, env=e,
                          text=True, errors="replace")


def clean_env():
    e = {k: v for k, v in os.environ.items()
         if not (k.startswith("LISTEN_") or k.startswith("WATCHDOG_")
                 or k in ("NOTIFY_SOCKET", "JOURNAL_STREAM"))}
    return e


def tmpdir():
    d = tempfile.mkdtemp(prefix="upcased-test-")
    defer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------
# a process started with fork/exec (for socket activation)
# ---------------------------------------------------------------------------

class ForkedProc:
    """Like a subprocess.Popen (pid, poll, wait, send_signal, kill,
    returncode) for a child made with os.fork(): the child dup2()s the
    given descriptors to 3, 4, ... and sets LISTEN_PID to its own pid."""

    def __init__(self, argv, env, fds, stdout_fd, stderr_fd,
                 listen_pid="self"):
        self.returncode = None
        self.args = argv
        pid = os.fork()
        if pid == 0:  # child
            try:
                hi = [fcntl.fcntl(fd, fcntl.F_DUPFD, 200) for fd in fds]
                null = os.open("/dev/null", os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(stdout_fd, 1)
                os.dup2(stderr_fd, 2)
                for i, fd in enumerate(hi):
                    os.dup2(fd, 3 + i)   # dup2 clears FD_CLOEXEC
                os.closerange(3 + len(fds), 4096)
                env = dict(env)
                if fds:
                    env["LISTEN_FDS"] = str(len(fds))
                    if listen_pid == "self":
                        env["LISTEN_PID"] = str(os.getpid())
                    elif listen_pid is not None:
                        env["LISTEN_PID"] = str(listen_pid)
                os.execve(argv[0], argv, env)
            except BaseException:
                pass
            os._exit(127)
        self.pid = pid

    def _reap(self, flags):
        if self.returncode is not None:
            return self.returncode
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            self.returncode = -1
            return self.returncode
        if pid == 0:
            return None
        if os.WIFSIGNALED(status):
            self.returncode = -os.WTERMSIG(status)
        else:
            self.returncode = os.WEXITSTATUS(status)
        return self.returncode

    def poll(self):
        return self._reap(os.WNOHANG)

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            rc = self.poll()
            if rc is not None:
                return rc
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.005)

    def send_signal(self, sig):
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self):
        self.send_signal(signal.SIGKILL)


# ---------------------------------------------------------------------------
# the daemon
# ---------------------------------------------------------------------------

class DaemonExited(AssertionError):
    pass


class Daemon:
    """One upcased process with its own temp dir, config file, stderr log
    and notify socket.

    config: config text in which {P0}, {P1}, ... stand for the ports this
    object allocates (nports of them, each free for TCP and UDP).  argv
    entries and env values may hold the same tokens and {NOTIFY} (the
    notify socket path) and {CONF} (the config path).

    ready: "notify" (wait for READY=1), "tcp" (poll a TCP connect to P0),
    or None (do not wait).  If the daemon exits with EX_OSERR before it is
    ready (a port was taken meanwhile), new ports are picked and it is
    started again (retries times)."""

    def __init__(self, config=None, nports=1, args=(), env=None,
                 ready="notify", retries=4, argv_prefix=None,
                 listen_fds=None, listen_pid="self", notify=True,
                 ready_timeout=10.0, start=True, log_target="stderr"):
        self.config_template = conf() if config is None else config
        self.nports = nports
        self.args = list(args)
        self.env_add = dict(env or {})
        self.ready_mode = ready
        self.retries = retries
        self.argv_prefix = list(argv_prefix or [])
        self.listen_fds = listen_fds
        self.listen_pid = listen_pid
        self.use_notify = notify
        self.ready_timeout = ready_timeout
        self.log_target = log_target
        self.dir = tempfile.mkdtemp(prefix="upcased-test-")
        self.conf_path = os.path.join(self.dir, "upcased.conf")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.proc = None
        self.ports = []
        self.messages = []      # (monotonic time, text) of every datagram
        self._cursor = 0
        self.t_exec = None
        self.t_ready = None
        self.nsock = None
        self.starts = 0
        _daemons.append(self)
        if start:
            self.start()

    # -- set-up ------------------------------------------------------------

    def subst(self, text):
        for i, p in enumerate(self.ports):
            text = text.replace("{P%d}" % i, str(p))
        return (text.replace("{NOTIFY}", self.notify_path)
                .replace("{CONF}", self.conf_path))

    @property
    def port(self):
        return self.ports[0]

    def write_config(self, template=None):
        """(Re)write the config file from template (default: current)."""
        if template is not None:
            self.config_template = template
        text = self.subst(self.config_template)
        tmp = self.conf_path + ".tmp"
        write_file(tmp, text)
        os.rename(tmp, self.conf_path)
        return text

    def _open_notify(self):
        if self.nsock is not None:
            self.nsock.close()
        try:
            os.unlink(self.notify_path)
        except FileNotFoundError:
            pass
        self.nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.nsock.bind(self.notify_path)
        self.nsock.setblocking(False)
        self.messages = []
        self._cursor = 0

    def argv(self):
        return ([self.subst(a) for a in self.argv_prefix] +
                [BIN, "-c", self.conf_path] +
                (["--log-target=%s" % self.log_target]
                 if self.log_target else []) +
                [self.subst(a) for a in self.args])

    def start(self):
        attempt = 0
        while True:
            attempt += 1
            if not self.ports or attempt > 1:
                self.ports = alloc_ports(self.nports) if self.nports else []
            self.write_config()
            self._launch()
            if self.ready_mode is None:
                return self
            try:
                self.wait_ready()
                return self
            except DaemonExited:
                if self.proc.returncode == EX_OSERR and \
                        attempt <= self.retries and self.listen_fds is None:
                    diag("daemon exited %d at start (port taken?): retrying "
                         "with new ports" % EX_OSERR)
                    continue
                raise

    def _launch(self):
        env = clean_env()
        if self.use_notify:
            self._open_notify()
            env["NOTIFY_SOCKET"] = self.notify_path
        for k, v in self.env_add.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = self.subst(v)
        argv = self.argv()
        errf = open(self.stderr_path, "ab")
        outf = open(self.stdout_path, "ab")
        self.starts += 1
        errf.write(("--- start %d: %s\n" % (self.starts, " ".join(argv)))
                   .encode())
        errf.flush()
        self._stderr_start = os.path.getsize(self.stderr_path)
        self.t_exec = time.monotonic()
        self.t_ready = None
        try:
            if self.listen_fds is not None:
                self.proc = ForkedProc(argv, env, self.listen_fds,
                                       outf.fileno(), errf.fileno(),
                                       listen_pid=self.listen_pid)
            else:
                self.proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=outf, stderr=errf,
                    env=env, close_fds=True)
        finally:
            errf.close()
            outf.close()
        _procs.append(self.proc)

    @property
    def pid(self):
        return self.proc.pid

    # -- readiness and notify messages --------------------------------------

    def _read_notify(self, timeout):
        """Wait up to timeout for datagrams; read all that are there into
        messages and return their count (0 on timeout)."""
        if self.nsock is None:
            time.sleep(max(0, timeout))
            return 0
        n = 0
        deadline = time.monotonic() + max(0, timeout)
        while True:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.nsock], [], [], max(0, left))
            if not r:
                return n
            while True:
                try:
                    data = self.nsock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    break
                self.messages.append(
                    (time.monotonic(), data.decode("utf-8", "replace")))
                n += 1
            if n or left <= 0:
                return n

    def next_notify(self, pred, timeout, what=None):
        """Return the first message from the cursor on for which pred(text)
        holds (waiting up to timeout) and move the cursor past it.
        AssertionError if none arrives or the daemon exits."""
        deadline = time.monotonic() + timeout
        while True:
            while self._cursor < len(self.messages):
                t, text = self.messages[self._cursor]
                self._cursor += 1
                if pred(text):
                    return t, text
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    "no notify message %s within %.1f s; seen: %r" %
                    (what or "", timeout,
                     [m for _, m in self.messages][-12:]))
            if self.proc.poll() is not None:
                self._read_notify(0)
                if self._cursor < len(self.messages):
                    continue
                raise DaemonExited("daemon exited with %r while waiting for "
                                   "notify message %s" %
                                   (self.proc.returncode, what or ""))
            self._read_notify(min(left, 0.05))

    def expect_notify(self, assignment, timeout=5.0):
        """Wait for a datagram that holds the line assignment exactly
        (e.g. "READY=1"); returns its arrival time."""
        t, _ = self.next_notify(
            lambda m: assignment in m.split("\n"), timeout, assignment)
        return t

    def collect_notify(self, duration):
        """All messages that arrive within duration (from the cursor on)."""
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            self._read_notify(deadline - time.monotonic())
        out = [m for _, m in self.messages[self._cursor:]]
        self._cursor = len(self.messages)
        return out

    def wait_ready(self, timeout=None):
        timeout = self.ready_timeout if timeout is None else timeout
        if self.ready_mode == "tcp":
            deadline = time.monotonic() + timeout
            while True:
                if self.proc.poll() is not None:
                    raise DaemonExited("daemon exited with %r before ready" %
                                       self.proc.returncode)
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    s.settimeout(1)
                    s.connect((LOCAL4, self.port))
                    s.close()
                    self.t_ready = time.monotonic()
                    return self.t_ready
                except OSError:
                    s.close()
                if time.monotonic() > deadline:
                    raise AssertionError("daemon not listening on TCP port "
                                         "%d after %.1f s" %
                                         (self.port, timeout))
                time.sleep(0.02)
        self.t_ready = self.expect_notify("READY=1", timeout)
        return self.t_ready

    @property
    def ready_ms(self):
        return (self.t_ready - self.t_exec) * 1000.0

    # -- control --------------------------------------------------------------

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self, template=None, wait=True, timeout=5.0):
        """Rewrite the config (if template given), SIGHUP, and wait for
        RELOADING=1 then READY=1.  Returns the time it took (s)."""
        if template is not None:
            self.write_config(template)
        # forget older messages: wait for this reload's own
        self._read_notify(0)
        self._cursor = len(self.messages)
        t0 = time.monotonic()
        self.signal(signal.SIGHUP)
        if wait:
            self.expect_notify("RELOADING=1", timeout)
            self.expect_notify("READY=1", timeout)
        return time.monotonic() - t0

    def stop(self, timeout=10.0, sig=None):
        """Send sig (default SIGTERM) and wait for the exit; returns the
        exit status.  AssertionError (after SIGKILL) if it does not exit in
        time."""
        if sig is None:
            sig = signal.SIGTERM
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.t_stop = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError("daemon did not exit within %.1f s of %s" %
                                 (timeout, signal.Signals(sig).name))
        self.stop_seconds = time.monotonic() - self.t_stop
        return rc

    def wait_exit(self, timeout=10.0):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("daemon still running after %.1f s" %
                                 timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        self.kill()
        if self.nsock is not None:
            self.nsock.close()
            self.nsock = None
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- inspection -------------------------------------------------------------

    def stderr(self):
        """The daemon's stderr since its last start."""
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(getattr(self, "_stderr_start", 0))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_all(self):
        """The whole stderr log, every start included."""
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_stderr(self, pattern, timeout=5.0):
        """Wait until the stderr matches the regex; returns the match."""
        rx = re.compile(pattern)
        m = wait_for(lambda: rx.search(self.stderr()), timeout)
        if not m:
            raise AssertionError("stderr does not match %r within %.1f s" %
                                 (pattern, timeout))
        return m

    def stderr_tail(self, n=25):
        return self.stderr().splitlines()[-n:]

    def describe(self):
        out = ["daemon pid %s, exit status %r, ports %r" %
               (getattr(self.proc, "pid", None),
                self.proc.poll() if self.proc else None, self.ports)]
        try:
            with open(self.conf_path) as f:
                out.append("config file %s:" % self.conf_path)
                out += ["  " + l for l in f.read().splitlines()]
        except OSError:
            pass
        tail = self.stderr_tail()
        out.append("daemon stderr tail (%d lines):" % len(tail))
        out += ["  " + l for l in tail]
        if self.messages:
            out.append("notify messages (last 8): %r" %
                       [m for _, m in self.messages[-8:]])
        return out

    def _status_field(self, key):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise AssertionError("no %s in /proc/%d/status" % (key, self.pid))

    def rss_kb(self):
        return self._status_field("VmRSS")

    def sanitizer(self):
        """"asan", "tsan" or None: the sanitizer runtime mapped in the
        daemon (its shadow memory inflates RSS)."""
        try:
            with open("/proc/%d/maps" % self.pid) as f:
                maps = f.read()
        except OSError:
            return None
        if "libtsan" in maps:
            return "tsan"
        if "libasan" in maps:
            return "asan"
        return None

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.pid))

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def fd_targets(self):
        out = []
        base = "/proc/%d/fd" % self.pid
        for name in os.listdir(base):
            try:
                out.append(os.readlink(os.path.join(base, name)))
            except OSError:
                pass
        return out


STATUS_RE = re.compile(
    r"STATUS=(?P<open>\d+) connections open, (?P<served>\d+) served; "
    r"(?P<bytes_in>\d+) bytes in, (?P<bytes_out>\d+) out; "
    r"(?P<datagrams>\d+) datagrams, (?P<dropped>\d+) dropped, "
    r"(?P<limited>\d+) rate-limited; (?P<workers>\d+) workers?"
    r"(?:; (?P<refused>\d+) refused(?:, (?P<denied>\d+) denied)?, "
    r"(?P<proxy_errors>\d+) PROXY errors)?$", re.M)


def parse_status(text):
    """dict of the figures of a STATUS= line in text, or None."""
    m = STATUS_RE.search(text)
    if not m:
        return None
    return {k: int(v) for k, v in m.groupdict().items() if v is not None}


def wait_status(d, pred, timeout=8):
    """The figures of the first STATUS= of Daemon d from its notify
    cursor on for which pred(figures) holds (waiting up to timeout)."""
    _, m = d.next_notify(lambda m: status_text(m) is not None and
                         pred(parse_status(m)), timeout, "STATUS=")
    return parse_status(m)


def status_text(text):
    for line in text.split("\n"):
        if line.startswith("STATUS="):
            return line
    return None


# --- the /metrics endpoint --------------------------------------------------

METRICS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_SAMPLE_RE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def http_get(port, path="/metrics", method="GET", headers=None,
             timeout=5.0, host=LOCAL4):
    """(status, headers as a dict of lower-case names, body bytes)."""
    import http.client
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def metrics_parse(text):
    """(samples, types) of a text-format exposition: samples maps
    (name, ((label, value), ...) sorted) to a float, types a family's
    name to its # TYPE.  Every line must be a comment or a sample, and
    the label part must be nothing but labels."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        labels = _LABEL_RE.findall(m.group(2) or "")
        assert ",".join('%s="%s"' % kv for kv in labels) == \
            (m.group(2) or ""), "bad labels: %r" % line
        key = (m.group(1), tuple(sorted(labels)))
        assert key not in samples, "sample twice: %r" % line
        samples[key] = float(m.group(3))
    return samples, types


def metrics_scrape(port):
    """(samples, types) of GET /metrics on port, which must answer 200
    in the text format."""
    status, hdrs, body = http_get(port)
    assert status == 200, "GET /metrics: status %d" % status
    assert hdrs.get("content-type") == METRICS_TEXT, hdrs
    return metrics_parse(body.decode())


def metric(samples, name, **labels):
    """The value of one sample; it must be there."""
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, "no %s%r in /metrics" % (name, labels)
    return samples[key]


def sender_thread(sock, data, chunk=65536, then_shutdown=False,
                  timeout=30.0):
    """Start a daemon thread that sends data on sock (blocking) and then
    optionally shuts down the write side.  Returns (thread, result dict:
    sent, error, done)."""
    result = {"sent": 0, "error": None, "done": False}

    def run():
        try:
            deadline = time.monotonic() + timeout
            view = memoryview(data)
            while result["sent"] < len(data):
                if time.monotonic() > deadline:
                    raise TimeoutError("sender: %d of %d bytes sent in "
                                       "%.0f s" % (result["sent"],
                                                   len(data), timeout))
                r, w, _ = select.select([], [sock], [], 0.5)
                if not w:
                    continue
                try:
                    n = sock.send(view[result["sent"]:result["sent"] + chunk],
                                  socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    continue
                result["sent"] += n
            if then_shutdown:
                sock.shutdown(socket.SHUT_WR)
            result["done"] = True
        except BaseException as e:  # reported by the test
            result["error"] = repr(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, result
