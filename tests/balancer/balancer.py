"""Shared helpers of the load-balancer suite (tests/balancer/).

run.sh builds the network and runs each test file inside the client
namespace; this module knows the namespaces (from the environment run.sh
sets), the addresses, and how to run the three pieces:

* backend(): one upcased in a backend namespace (a harness.Daemon run
  through "ip netns exec", so its stop, stderr and notify messages work
  as in every other suite); Backends: the three of them
* Haproxy, Nginx: the real balancers in the balancer namespace, started
  from doc/examples/haproxy.cfg and nginx.conf with only their file paths
  moved into the suite's temporary directory; Haproxy.stat() reads the
  admin socket ("show stat")
* clients bound to one of the client namespace's addresses (A, B, C)
* figure(): the line run.sh collects into its table:
  "# FIGURE <scenario> | <figure> | <bound>"

Every loop is bounded in time and count.
"""

import atexit
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("UPCASED_SRCDIR") or os.path.abspath(
    os.path.join(HERE, "..", ".."))
_INTEGRATION = os.path.join(SRCDIR, "tests", "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)

import harness  # noqa: E402  (after the path is set)
from harness import diag  # noqa: E402

NS_LB = os.environ.get("BALANCER_NS_LB", "")
NS_B = os.environ.get("BALANCER_NS_B", "").split()
TMP = os.environ.get("BALANCER_TMP", "")
HAPROXY = os.environ.get("HAPROXY", "/usr/sbin/haproxy")
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
EXAMPLES = os.path.join(SRCDIR, "doc", "examples")

# the addresses of doc/examples/ (run.sh gives them to the namespaces)
A, B, C = "10.77.1.10", "10.77.1.11", "10.77.1.12"   # client namespace
FRONT = "10.77.1.1"            # the balancer, client side
LB = "10.77.2.1"               # the balancer, backend side
BACKENDS = ["10.77.2.11", "10.77.2.12", "10.77.2.13"]
PLAIN, PP = 7000, 7001         # backend ports: plain, PROXY protocol
HA_PLAIN, HA_PP1, HA_PP2 = 7000, 7001, 7002      # HAProxy front ports
NG_PLAIN, NG_PP = 7100, 7101   # nginx front ports (7100 is UDP too)
# haproxy.cfg: default-server inter 200ms fall 2 rise 2
INTER, FALL, RISE = 0.2, 2, 2
SECTIONS = {HA_PLAIN: "upcased_plain", HA_PP1: "upcased_pp1",
            HA_PP2: "upcased_pp2"}

def in_suite():
    """Skip unless run by run.sh (root, in the client namespace)."""
    if not (NS_LB and len(NS_B) == 3 and TMP):
        raise harness.Skip("run by tests/balancer/run.sh only (it builds "
                           "the network namespaces)")


def figure(case, fig, bound):
    """The line run.sh collects: scenario | figure | bound.  Emit it
    before asserting, so a failing case shows its figure too."""
    def clean(s):
        return " ".join(str(s).replace("|", "/").split())
    diag("FIGURE %s | %s | %s" % (clean(case), clean(fig), clean(bound)))


# ---------------------------------------------------------------------------
# backends
# ---------------------------------------------------------------------------

def backend_conf(i, port=PLAIN, udp=True, limits=None, extra="",
                 udp_rate=None, udp_burst=None, level="debug",
                 udp_balancers=()):
    """Config text of backend i (0..2) listening on port (TCP, and UDP
    when udp) on its own address; debug log (one line per connection).
    udp_balancers: udp.balancers, the addresses whose datagrams are
    rate-limited per source port (one client session each)."""
    lim = {"max_connections_per_source": 0, "idle_timeout": 0}
    lim.update(limits or {})
    text = harness.conf(tcp="[ %d ]" % port,
                        udp=("[ %d ]" % port) if udp else "[ ]",
                        bind='"%s"' % BACKENDS[i], workers=2,
                        transform="ascii", limits=lim, level=level,
                        extra=extra, udp_rate=udp_rate)
    if udp_burst is not None:
        old = "rate_limit = %d;" % udp_rate
        assert text.count(old) == 1, text
        text = text.replace(old, "%s rate_burst = %d;" % (old, udp_burst))
    if udp_balancers:
        old = "udp = { ports = "
        assert text.count(old) == 1, text
        text = text.replace(old, "udp = { balancers = [ %s ]; ports = " %
                            ", ".join('"%s"' % a for a in udp_balancers))
    return text


def backend(i, config, start=True):
    """upcased in backend namespace i, with config (fixed ports: no {Pn}),
    ready once it says READY=1."""
    return harness.Daemon(config, nports=0, start=start,
                          argv_prefix=["ip", "netns", "exec", NS_B[i]])


# "connection from CLIENT:PORT[ via BALANCER:PORT] closed (WHY): N bytes
# in, N out" (the balancer once a PROXY header named the client)
CONNECTION_FROM = re.compile(
    r"^upcased: debug: connection from (\S+?):(\d+)"
    r"(?: via (\S+?):\d+)? closed \(([^)]*)\): (\d+) bytes in, "
    r"(\d+) out", re.M)


def pp_conf(i, trusted=(LB,), limits=None, extra=""):
    """Config of backend i behind a balancer that sends the PROXY
    protocol: port PP (TCP only), the balancer trusted."""
    pp = "proxy_protocol = { from = [ %s ]; };" % ", ".join(
        '"%s"' % a for a in trusted)
    return backend_conf(i, port=PP, udp=False, limits=limits,
                        extra=(pp + "\n" + extra).strip())


def need_setting(text, what):
    """Skip the test if the daemon refuses the config text (an unknown
    setting: a daemon without that feature); AssertionError for any
    other complaint."""
    path = os.path.join(TMP, "probe.conf")
    with open(path, "w") as f:
        f.write(text)
    r = harness.run_bin(["--check-config", "-q", "-c", path])
    if r.returncode == 0:
        return
    if "unknown setting" in r.stderr:
        raise harness.Skip("daemon without %s" % what)
    raise AssertionError("--check-config refused %r: %s" % (text,
                                                          r.stderr))


def closed_sessions(d, peer=None, bytes_out=None, every_start=False):
    """The (peer, port, why, in, out, via) of each connection the debug
    log of d reports closed (via: the balancer's address, or None), only
    from address peer and with bytes_out bytes answered if given (bytes
    in count a PROXY header too)."""
    text = d.stderr_all() if every_start else d.stderr()
    out = []
    for m in CONNECTION_FROM.finditer(text):
        row = (m.group(1), int(m.group(2)), m.group(4), int(m.group(5)),
               int(m.group(6)), m.group(3))
        if (peer is None or row[0] == peer) and \
                (bytes_out is None or row[4] == bytes_out):
            out.append(row)
    return out


# ---------------------------------------------------------------------------
# the balancers
# ---------------------------------------------------------------------------

def _netns(argv):
    return ["ip", "netns", "exec", NS_LB] + argv


class _Proc:
    name = "?"

    def __init__(self):
        self.proc = None
        self.log = os.path.join(TMP, self.name + ".log")

    def launch(self, argv):
        errf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(
                _netns(argv), stdin=subprocess.DEVNULL, stdout=errf,
                stderr=errf, close_fds=True)
        finally:
            errf.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return f.read().splitlines()[-n:]
        except OSError:
            return []

    def stop(self, sig=signal.SIGTERM):
        if not self.alive():
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


class Haproxy(_Proc):
    """HAProxy from doc/examples/haproxy.cfg, foreground (-db), master
    process so that a stop ends its workers too (-W)."""
    name = "haproxy"

    def __init__(self):
        super().__init__()
        self.sock = os.path.join(TMP, "haproxy.sock")
        self.cfg = os.path.join(TMP, "haproxy.cfg")
        with open(os.path.join(EXAMPLES, "haproxy.cfg")) as f:
            text = f.read()
        assert "/run/haproxy/admin.sock" in text
        with open(self.cfg, "w") as f:
            f.write(text.replace("/run/haproxy/admin.sock", self.sock))

    def start(self):
        self.launch([HAPROXY, "-W", "-db", "-f", self.cfg])
        if not harness.wait_for(lambda: self._stat_or_none() is not None
                                or not self.alive(), 10):
            raise AssertionError("haproxy: no admin socket after 10 s: %r"
                                 % self.log_tail())
        if not self.alive():
            raise AssertionError("haproxy exited %r: %r" %
                                 (self.proc.returncode, self.log_tail()))
        return self

    def command(self, cmd, timeout=2.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect(self.sock)
            s.sendall(cmd.encode() + b"\n")
            buf = bytearray()
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return buf.decode(errors="replace")
        finally:
            s.close()

    def _stat_or_none(self):
        try:
            return self.stat()
        except OSError:
            return None

    def stat(self):
        """{(section, server): row dict} of "show stat" (servers only)."""
        text = self.command("show stat")
        lines = text.splitlines()
        if not lines or not lines[0].startswith("# "):
            raise OSError("show stat: %r" % text[:200])
        head = lines[0][2:].split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("svname") not in (None, "FRONTEND", "BACKEND"):
                out[(row["pxname"], row["svname"])] = row
        return out

    def states(self, port):
        """["UP", "DOWN", ...] of the three servers of front port's
        section (b1, b2, b3)."""
        st = self.stat()
        return [st[(SECTIONS[port], "b%d" % i)]["status"] for i in (1, 2, 3)]

    def sessions(self, port):
        """Total sessions each server of port's section has taken
        (stot: client sessions, health checks not counted)."""
        st = self.stat()
        return [int(st[(SECTIONS[port], "b%d" % i)]["stot"] or 0)
                for i in (1, 2, 3)]

    def wait_states(self, port, want, timeout=5.0):
        """Wait until states(port) == want (a list); AssertionError if not
        within timeout.  Returns the seconds it took."""
        t0 = time.monotonic()
        got = harness.wait_for(lambda: self.states(port) == want, timeout)
        if not got:
            raise AssertionError("haproxy %s: servers %r, not %r after "
                                 "%.1f s" % (SECTIONS[port],
                                             self.states(port), want,
                                             timeout))
        return time.monotonic() - t0


class Nginx(_Proc):
    """nginx from doc/examples/nginx.conf, foreground (daemon off)."""
    name = "nginx"

    def __init__(self):
        super().__init__()
        self.cfg = os.path.join(TMP, "nginx.conf")
        self.prefix = os.path.join(TMP, "nginx") + "/"
        os.makedirs(self.prefix, exist_ok=True)
        with open(os.path.join(EXAMPLES, "nginx.conf")) as f:
            text = f.read()
        for path in ("/run/nginx.pid", "/var/log/nginx/error.log"):
            assert path in text
        text = (text.replace("/run/nginx.pid",
                             os.path.join(TMP, "nginx.pid"))
                .replace("/var/log/nginx/error.log", self.log))
        with open(self.cfg, "w") as f:
            f.write(text)

    def start(self):
        self.launch([NGINX, "-c", self.cfg, "-p", self.prefix,
                     "-g", "daemon off;"])
        # listening once its namespace's /proc/PID/net/tcp says so (a
        # probe connection would fail against absent backends and make
        # nginx hold them down for fail_timeout)
        want = "%08X:%04X" % (int.from_bytes(socket.inet_aton(FRONT),
                                             "little"), NG_PLAIN)

        def up():
            if not self.alive():
                return True
            try:
                with open("/proc/%d/net/tcp" % self.proc.pid) as f:
                    return any(l.split()[1] == want and l.split()[3] == "0A"
                               for l in f.readlines()[1:])
            except OSError:
                return False
        harness.wait_for(up, 10)
        if not self.alive():
            raise AssertionError("nginx exited %r: %r" %
                                 (self.proc.returncode, self.log_tail()))
        return self


_balancers = {}


def balancer(kind):
    """The one Haproxy or Nginx of this test file, started on first use
    and stopped when the file ends."""
    if kind not in _balancers:
        b = {"haproxy": Haproxy, "nginx": Nginx}[kind]()
        b.start()
        _balancers[kind] = b
    b = _balancers[kind]
    if not b.alive():
        raise AssertionError("%s exited %r: %r" % (kind, b.proc.returncode,
                                                     b.log_tail()))
    return b


def stop_balancers():
    for b in _balancers.values():
        b.stop()


atexit.register(stop_balancers)


# ---------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------

def connect_from(src, port, host=FRONT, timeout=5.0):
    """harness.connect_from() to the front address; the caller closes."""
    return harness.connect_from(src, port, host=host, timeout=timeout,
                                track=False)


def session(src, port, payload, timeout=5.0):
    """One short session: connect from src, send payload and the FIN,
    read the answer to EOF and check it.  Returns None, or what went
    wrong ("wrong reply ..." if a byte differs from the model)."""
    try:
        s = connect_from(src, port, timeout=timeout)
    except OSError as e:
        return "connect: %s" % e
    got = bytearray()
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout after %d bytes" % len(got)
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        exp = harness.upper(payload)
        if bytes(got) == exp:
            return None
        if exp.startswith(bytes(got)):
            return "closed after %d of %d bytes answered" % (len(got),
                                                             len(exp))
        return "wrong reply %r, not %r" % (bytes(got[:60]), exp[:60])
    except (ConnectionResetError, BrokenPipeError) as e:
        return "reset after %d of %d bytes answered (%s)" % (
            len(got), len(payload), e.strerror)
    except OSError as e:
        if e.errno == errno.ENOTCONN:       # reset before our FIN
            return "reset after %d of %d bytes answered (%s)" % (
                len(got), len(payload), e.strerror)
        return "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()


def wait_backends_up(ha, port, timeout=5.0):
    """HAProxy sees the three servers of port's section UP."""
    return ha.wait_states(port, ["UP"] * 3, timeout)


def listening(pid, addr, port):
    """True while process pid has a TCP socket listening on addr:port
    (read in its own namespace: /proc/PID/net/tcp)."""
    want = "%08X:%04X" % (int.from_bytes(socket.inet_aton(addr), "little"),
                          port)
    try:
        with open("/proc/%d/net/tcp" % pid) as f:
            rows = [l.split() for l in f.readlines()[1:]]
    except OSError:
        return False
    return any(r[1] == want and r[3] == "0A" for r in rows)


# ---------------------------------------------------------------------------
# load: short sessions and long-lived streaming sessions, in threads
# ---------------------------------------------------------------------------

class Load:
    """A steady load through a balancer's front port until stop():

    * `short` threads, each opening a new short session (connect, one
      40-byte line, FIN, read the answer to EOF) every `gap` seconds;
    * `long` long-lived sessions at all times: each sends a 64-byte line
      every 20 ms and checks its answer, for a life of 1.5 to 3 s, then
      sends its FIN and reads to EOF; a new one replaces it.

    Each session is recorded as (start, end, error or None); "wrong"
    counts answers whose bytes differ from what was sent, uppercased.
    Bounded: it stops by itself after max_seconds."""

    def __init__(self, port, src=A, short=3, gap=0.004, long=20,
                 max_seconds=60.0):
        import threading
        self.port, self.src = port, src
        self.short_n, self.gap, self.long_n = short, gap, long
        self.t_end = time.monotonic() + max_seconds
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.shorts = []        # (start, end, error)
        self.longs = []         # (start, end, error, bytes answered)
        self.wrong = 0
        self.threads = [threading.Thread(target=self._short_loop, args=(k,),
                                         daemon=True)
                        for k in range(short)]
        self.threads += [threading.Thread(target=self._long_loop,
                                          args=(k,), daemon=True)
                         for k in range(long)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    MAX_SESSIONS = 200000       # per thread: a bound on count, too

    def _running(self):
        return not self.stopping.is_set() and time.monotonic() < self.t_end

    def _short_loop(self, k):
        n = 0
        while self._running() and n < self.MAX_SESSIONS:
            n += 1
            line = (b"short %d.%06d through the balancer........" %
                    (k, n))[:39] + b"\n"
            t0 = time.monotonic()
            err = session(self.src, self.port, line, timeout=5.0)
            with self.lock:
                if err and err.startswith("wrong"):
                    self.wrong += 1
                self.shorts.append((t0, time.monotonic(), err))
            time.sleep(self.gap)

    def _long_loop(self, k):
        import random
        rnd = random.Random(k)
        n = 0
        while self._running() and n < self.MAX_SESSIONS:
            n += 1
            self._long_session(k, n, 1.5 + 1.5 * rnd.random())

    def _long_session(self, k, n, life):
        t0 = time.monotonic()
        got = 0
        err = None
        try:
            s = connect_from(self.src, self.port, timeout=5.0)
        except OSError as e:
            with self.lock:
                self.longs.append((t0, time.monotonic(), "connect: %s" % e,
                                   0))
            return
        try:
            i = 0
            while time.monotonic() - t0 < life and self._running() and \
                    i < 1000:
                i += 1
                line = (b"long %d.%d line %d of a streaming session, "
                        b"checked byte for byte......" % (k, n, i))[:63] \
                    + b"\n"
                s.sendall(line)
                reply = harness.recv_exact(s, len(line), 5.0)
                if reply != harness.upper(line):
                    with self.lock:
                        self.wrong += 1
                    raise AssertionError("wrong answer %r" % reply[:64])
                got += len(reply)
                time.sleep(0.02)
            s.shutdown(socket.SHUT_WR)
            rest = harness.recv_until_eof(s, 5.0)
            if rest:
                raise AssertionError("%d bytes after the last answer" %
                                     len(rest))
        except (OSError, AssertionError) as e:
            err = "%s: %s" % (type(e).__name__, e)
        finally:
            s.close()
        with self.lock:
            self.longs.append((t0, time.monotonic(), err, got))

    def stop(self, timeout=10.0):
        """Stop starting sessions; wait for those under way to end."""
        self.stopping.set()
        t_end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, t_end - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)

    def short_failures(self):
        with self.lock:
            return [r for r in self.shorts if r[2]]

    def long_failures(self):
        with self.lock:
            return [r for r in self.longs if r[2]]
