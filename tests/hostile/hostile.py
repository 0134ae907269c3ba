"""Shared helpers of the hostile-client suite (tests/hostile/).

The suite reuses tests/integration/harness.py (TAP runner, Daemon, conf,
clients); this module only adds what hostile clients need on top of it:

* figure(): the one machine-readable line per case that run.sh collects
  into its final table:  "# FIGURE <case> | <figure> | <bound>"
* hconf(): harness.conf() with udp.rate_burst, and limits that are not
  under test set out of the way
* connect_from() (harness's, re-exported): a TCP client bound to a given
  loopback source address (127.0.0.0/8 is all loopback: distinct sources
  without a namespace)
* open_many(), closed_by_server(), server_states(): crowds of
  connections, polled with poll/epoll (select() cannot watch descriptors
  above 1023), and the daemon's side of them in /proc/net/tcp
* Streamer, pump(): many clients that stream and check every byte at once
* a UDP flooder run as a separate process, so that it does not share the
  interpreter lock with the clients it competes with

Everything is loopback only, and every loop is bounded in time and count.
"""

import errno
import json
import os
import resource
import select
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("UPCASED_SRCDIR") or os.path.abspath(
    os.path.join(HERE, "..", ".."))
_INTEGRATION = os.path.join(SRCDIR, "tests", "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)
# run by hand without UPCASED_BIN: an in-tree build, else build/ (run.sh
# always sets it)
if not os.environ.get("UPCASED_BIN"):
    for _b in (os.path.join(SRCDIR, "src", "upcased"),
               os.path.join(SRCDIR, "build", "src", "upcased")):
        if os.access(_b, os.X_OK):
            os.environ["UPCASED_BIN"] = _b
            break

import harness  # noqa: E402  (after the path is set)
from harness import LOCAL4, connect_from, diag  # noqa: E402,F401


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit (the daemon inherits it);
    returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def need_fds(n):
    """Skip the test unless this process may open n more descriptors."""
    soft = raise_nofile()
    if soft != resource.RLIM_INFINITY and soft < n + 200:
        raise harness.Skip("RLIMIT_NOFILE %d is too low for %d sockets" %
                           (soft, n))


def figure(case, fig, bound):
    """The line run.sh collects: case | figure | bound.  Emit it before
    asserting, so a failing case shows its figure too."""
    def clean(s):
        return " ".join(str(s).replace("|", "/").split())
    diag("FIGURE %s | %s | %s" % (clean(case), clean(fig), clean(bound)))


def time_scale(d):
    """Multiplier for time bounds: 1 for a plain build, 4 under a
    sanitizer (CI runs the plain build; this keeps a sanitizer run from
    being flaky, not from being checked)."""
    return 4.0 if d.sanitizer() else 1.0


LOG_BAD = ("emerg", "alert", "crit", "error", "warning")


def bad_log_lines(d, levels=LOG_BAD):
    """The daemon's stderr lines at one of levels ("upcased: LEVEL: ...")."""
    return [l for l in d.stderr().splitlines()
            if any(l.startswith("upcased: %s:" % lv) for lv in levels)]


def hconf(limits=None, udp_rate=None, udp_burst=None, workers=2,
          transform="ascii", **kw):
    """harness.conf() with udp.rate_burst, and with the limits that are
    not under test out of the way: no per-source cap, a crowded rule
    that never fires (crowded_idle_timeout one day), idle_timeout off.
    limits given override these."""
    lim = {"max_connections_per_source": 0,
           "crowded_idle_timeout": 86400,
           "idle_timeout": 0}
    lim.update(limits or {})
    rate = 0 if udp_rate is None else udp_rate
    text = harness.conf(limits=lim, udp_rate=rate, workers=workers,
                        transform=transform, **kw)
    if udp_burst is not None:
        old = "rate_limit = %d;" % rate
        assert text.count(old) == 1, text
        text = text.replace(old, "%s rate_burst = %d;" % (old, udp_burst))
    return text


# ---------------------------------------------------------------------------
# TCP clients
# ---------------------------------------------------------------------------

def set_rst_on_close(s):
    """SO_LINGER {1, 0}: close() sends a reset, not a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))


def poll_one(s, events, timeout):
    """poll() one socket (any descriptor number); the revents or 0."""
    p = select.poll()
    p.register(s, events)
    r = p.poll(max(0, timeout) * 1000)
    return r[0][1] if r else 0


def drain_nb(s, limit=1 << 24):
    """Read what is there without blocking.  Returns (bytes, state):
    state "open", "eof" or "reset"."""
    buf = bytearray()
    while len(buf) < limit:
        try:
            chunk = s.recv(1 << 20, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return bytes(buf), "open"
        except ConnectionResetError:
            return bytes(buf), "reset"
        if not chunk:
            return bytes(buf), "eof"
        buf += chunk
    return bytes(buf), "open"


def timed_echo(port, src, payload, timeout=5.0):
    """A fresh connection from src: connect, echo payload, close.
    Returns the seconds it took (connect included); AssertionError if the
    reply is wrong or late."""
    t0 = time.monotonic()
    s = connect_from(src, port, timeout=timeout, track=False)
    try:
        s.sendall(payload)
        got = harness.recv_exact(s, len(payload), timeout)
        harness.check_bytes(got, harness.upper(payload))
    finally:
        s.close()
    return time.monotonic() - t0


def open_many(src, port, n, deadline_s=30.0):
    """n connections from src, each set non-blocking; AssertionError if
    they cannot all be opened before the deadline."""
    socks = []
    harness.defer(lambda: [s.close() for s in socks])
    t_end = time.monotonic() + deadline_s
    while len(socks) < n:
        if time.monotonic() > t_end:
            raise AssertionError("only %d of %d connections opened in "
                                 "%.0f s" % (len(socks), n, deadline_s))
        socks.append(connect_from(src, port, blocking=False, track=False))
    return socks


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def _hex4(addr):
    return "%08X" % struct.unpack("<I", socket.inet_aton(addr))[0]


def server_states(port, peer=None):
    """TCP states of the sockets whose local end is 127.0.0.1:port (the
    daemon's side; harness.tcp_states() matches the port alone, which a
    client bound to another 127.x address may also use), optionally only
    those whose remote address is peer."""
    out = []
    try:
        with open("/proc/net/tcp") as f:
            lines = f.readlines()[1:]
    except OSError:
        return out
    want = "%s:%04X" % (_hex4(LOCAL4), port)
    rpre = None if peer is None else _hex4(peer) + ":"
    for line in lines:
        parts = line.split()
        if len(parts) > 3 and parts[1] == want and (
                rpre is None or parts[2].startswith(rpre)):
            out.append(harness.TCP_STATES.get(parts[3], parts[3]))
    return out


def server_queues(port):
    """(bytes in the daemon's send queues, bytes in its receive queues
    not yet read) over its connections on 127.0.0.1:port."""
    tx = rx = 0
    want = "%s:%04X" % (_hex4(LOCAL4), port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if len(parts) > 4 and parts[1] == want and parts[3] != "0A":
                t, r = parts[4].split(":")
                tx += int(t, 16)
                rx += int(r, 16)
    return tx, rx


def server_count(port, state, peer=None):
    return sum(1 for st in server_states(port, peer) if st == state)


def closed_by_server(socks):
    """The subset of socks that the server closed (EOF or reset), without
    blocking; a socket that got data instead is not in it."""
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN)
    ready = {fd for fd, _ in p.poll(0)}
    out = []
    for s in socks:
        if s.fileno() in ready:
            try:
                if s.recv(16, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"":
                    out.append(s)
            except (ConnectionResetError, BrokenPipeError):
                out.append(s)
            except (BlockingIOError, InterruptedError):
                pass
    return out


# ---------------------------------------------------------------------------
# streaming clients: each sends its data and checks its reply as it comes
# ---------------------------------------------------------------------------

class Streamer:
    """One client streaming data (ascii transform: the reply is exactly
    harness.upper(data), byte for byte), checking each chunk of the reply
    as it arrives.  data may be shared by many streamers (never copied).
    finish() ends the stream where it is: the rest is not sent, and the
    write side is shut down (the client's FIN)."""

    def __init__(self, sock, data, name):
        self.sock = sock
        self.data = data
        self.end = len(data)
        self.name = name
        self.sent = 0
        self.got = 0
        self.error = None
        self.eof = False
        self.eof_at = None
        self.shut = False
        self.cut_short = False     # EOF with bytes unanswered
        self.gap_from = None       # set: track the longest pause in
        self.max_gap = 0.0         # sending (and FIN) from then on

    def fail(self, msg):
        if self.error is None:
            self.error = "%s: %s (sent %d, got %d%s)" % (
                self.name, msg, self.sent, self.got,
                ", FIN sent" if self.shut else "")

    @property
    def done(self):
        return self.eof or self.error is not None

    def on_read(self):
        try:
            chunk = self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.fail("recv: %s" % e)
            return
        if not chunk:
            self.eof = True
            self.eof_at = time.monotonic()
            if self.got != self.sent:
                self.cut_short = True
                self.fail("EOF from the server with %d bytes unanswered"
                          % (self.sent - self.got))
            elif not self.shut:
                self.fail("EOF from the server before the client's FIN")
            return
        end = self.got + len(chunk)
        exp = harness.upper(self.data[self.got:min(end, self.sent)])
        if end > self.sent or exp != chunk:
            i = next((k for k in range(len(chunk))
                      if k >= len(exp) or exp[k] != chunk[k]), 0)
            self.fail("wrong reply byte at offset %d: got %r, expected %r"
                      % (self.got + i, chunk[i:i + 16], exp[i:i + 16]))
            return
        self.got = end

    def on_write(self, chunk=65536):
        """Send what the socket takes, up to self.end."""
        while self.sent < self.end and self.error is None:
            try:
                n = self.sock.send(
                    self.data[self.sent:min(self.end, self.sent + chunk)],
                    socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.fail("send: %s" % e)
                return
            self.sent += n
            self._mark()

    def _mark(self):
        if self.gap_from is not None:
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - self.gap_from)
            self.gap_from = now

    def want_write(self):
        return self.sent < self.end and not self.shut

    def finish(self):
        """Send no more than what is sent now, and shut the write side."""
        self.end = self.sent
        self.shutdown()

    def shutdown(self):
        if not self.shut and self.error is None:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                self.fail("shutdown: %s" % e)
            self.shut = True
            self._mark()


def pump(streamers, until, timeout, read=True, write=True, shutdown=False,
         tick=None):
    """Drive the streamers with epoll until until() is true or timeout
    seconds pass (returns whether until() became true).  read/write: do
    each; shutdown: shut a streamer's write side once it sent all; tick:
    called after each poll round (at least every 50 ms)."""
    ep = select.epoll()
    fds = {}
    masks = {}

    def want(st):
        if st.done:
            return 0
        ev = select.EPOLLIN if read else 0
        if write and st.want_write():
            ev |= select.EPOLLOUT
        return ev

    def update(st):
        fd = st.sock.fileno()
        ev = want(st)
        if ev == masks.get(fd, 0):
            return
        if fd in masks and masks[fd]:
            if ev:
                ep.modify(fd, ev)
            else:
                ep.unregister(fd)
        elif ev:
            ep.register(fd, ev)
        masks[fd] = ev

    try:
        for st in streamers:
            fds[st.sock.fileno()] = st
            if shutdown and not st.want_write():
                st.shutdown()
            update(st)
        t_end = time.monotonic() + timeout
        while not until():
            left = t_end - time.monotonic()
            if left <= 0:
                return False
            for fd, ev in ep.poll(min(left, 0.05)):
                st = fds[fd]
                if read and ev & (select.EPOLLIN | select.EPOLLERR |
                                  select.EPOLLHUP):
                    st.on_read()
                if write and ev & (select.EPOLLOUT | select.EPOLLERR):
                    st.on_write()
                    if shutdown and not st.want_write():
                        st.shutdown()
                update(st)
            if tick is not None:
                tick()
                for st in streamers:     # tick may have finish()ed some
                    update(st)
        return True
    finally:
        ep.close()


# ---------------------------------------------------------------------------
# UDP
# ---------------------------------------------------------------------------

def udp_from(src, port=0, rcvbuf=None):
    s = socket.socket(harness.family_of(src), socket.SOCK_DGRAM)
    harness.defer(s.close)
    if rcvbuf:
        try:
            s.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)   # SO_RCVBUFFORCE
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((src, port))
    return s


def snmp_counter(proto, name):
    """A counter of /proc/net/snmp (this network namespace), e.g.
    ("Udp", "RcvbufErrors"): datagrams the kernel dropped because a
    socket's receive buffer was full."""
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith(proto + ":")]
    for head, vals in zip(rows[0::2], rows[1::2]):
        if name in head:
            return int(vals[head.index(name)])
    return 0


def start_flooder(src, host, port, count, size=32, min_seconds=0.0):
    """Start a separate process that sends count datagrams of size bytes
    from src to host:port as fast as it can, and goes on for min_seconds
    at least (10 x count datagrams at most), counting the replies.  It
    prints one line "ready" when bound, waits for a line on stdin, floods,
    drains replies for 0.5 s and prints a JSON result."""
    p = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "udp-flood", src, host,
         str(port), str(count), str(size), str(min_seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    harness._procs.append(p)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        raise AssertionError("flooder did not start: %r" % line)
    return p


def flooder_result(p, timeout=30):
    out, _ = p.communicate(timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("flooder exited %r: %r" % (p.returncode, out))
    return json.loads(out.strip().splitlines()[-1])


def _udp_flood_main(src, host, port, count, size, min_seconds):
    port, count, size = int(port), int(count), int(size)
    min_seconds = float(min_seconds)
    s = socket.socket(harness.family_of(host), socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)   # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.bind((src, 0))
    s.setblocking(False)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    payload = b"flood-" + b"x" * max(0, size - 6)
    dest = (host, port)
    sent = got = errors = 0
    t0 = time.monotonic()
    t_stop = t0 + 20.0
    t_min = t0 + min_seconds
    while (sent < count or time.monotonic() < t_min) and \
            sent < 10 * count and time.monotonic() < t_stop:
        try:
            s.sendto(payload, dest)
            sent += 1
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.ECONNREFUSED):
                raise
            errors += 1
        if sent % 64 == 0:
            while True:
                try:
                    s.recv(65536)
                    got += 1
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionRefusedError:
                    errors += 1
    t_flood = time.monotonic() - t0
    t_end = time.monotonic() + 0.5
    while time.monotonic() < t_end:
        try:
            s.recv(65536)
            got += 1
        except (BlockingIOError, InterruptedError):
            time.sleep(0.005)
        except ConnectionRefusedError:
            errors += 1
    print(json.dumps({"sent": sent, "answered": got, "seconds": t_flood,
                      "errors": errors, "t0": t0}))


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "udp-flood":
        _udp_flood_main(*sys.argv[2:])
    else:
        sys.stderr.write("usage: hostile.py udp-flood SRC HOST PORT COUNT "
                         "SIZE MIN_SECONDS\n")
        sys.exit(64)
