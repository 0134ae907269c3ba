#!/usr/bin/python3
"""Clients for the system test (tests/system/run.sh), run inside the
container.  Python 3 standard library only.  Every mode is bounded in time
and in count; every exchange checks the reply byte for byte.

  client.py tcp HOST PORT [N]      one line over TCP, expect it in upper case
                                   (N connections one after another, each
                                   one line, at most 1000; default 1)
  client.py udp HOST PORT          one datagram, expect it in upper case
  client.py refused HOST PORT      expect the TCP connection to be refused
  client.py hold HOST PORT DIR     connect and exchange a line, create
                                   DIR/ready, wait (at most 60 s) for
                                   DIR/go, exchange another line on the same
                                   connection, write DIR/result
  client.py stream HOST PORT SECS  new connections one after another, one
                                   every 2 ms or so, for SECS seconds (at
                                   most 20000 of them), each one line and
                                   its reply; print the counts, exit 1 if
                                   one was refused, reset or timed out, or
                                   more than one was closed unanswered
  client.py steady HOST PORT SECS HELD [udp]
                                   a steady load for SECS seconds (at most
                                   60): HELD (at most 100) long-lived
                                   connections, each exchanging a line
                                   every 10 ms; a new connection every
                                   10 ms whatever happens to the earlier
                                   ones (open loop, at most 200 in flight,
                                   so that clients pile up in the backlog
                                   while nobody accepts), each one line and
                                   its reply, then closed; with "udp", a
                                   datagram every 10 ms too.  Every
                                   exchange times out after 5 s.  Prints
                                   one line of NAME=COUNT figures (see
                                   do_steady) and the first failure of
                                   each kind; the caller judges them.

  client.py get HOST PORT PATH     HTTP GET, print the body (an answer
                                   other than 200 is a failure)
  client.py query HOST PORT QUERY  an instant PromQL query through a
                                   Prometheus server's HTTP API
                                   (/api/v1/query): print the value of
                                   each series of the result, one a line

Exit status 0 on success, 1 on a wrong or missing answer, 2 on usage.
"""

import errno
import json
import os
import selectors
import socket
import sys
import time
import urllib.parse
import urllib.request

TIMEOUT = 5.0


def upper(data):
    return data.translate(bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz",
                                          b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def recv_exactly(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def exchange(s, msg):
    s.sendall(msg)
    got = recv_exactly(s, len(msg))
    if got != upper(msg):
        raise AssertionError("sent %r, got %r" % (msg, got))


def connect(host, port):
    return socket.create_connection((host, port), timeout=TIMEOUT)


def do_tcp(host, port, n=1):
    for i in range(n):
        with connect(host, port) as s:
            exchange(s, b"hello, system test %d\n" % os.getpid())
    print("tcp %s:%d answered%s" % (host, port,
                                    "" if n == 1 else " %d times" % n))


def do_udp(host, port):
    msg = b"datagram from the system test %d" % os.getpid()
    with socket.socket(family(host), socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        # The first datagram may start the service (socket activation):
        # it waits in the socket meanwhile.  Resend a few times anyway,
        # UDP may lose one.
        deadline = time.monotonic() + 3 * TIMEOUT
        while time.monotonic() < deadline:
            s.sendto(msg, (host, port))
            try:
                got, _ = s.recvfrom(65536)
            except socket.timeout:
                continue
            if got != upper(msg):
                raise AssertionError("sent %r, got %r" % (msg, got))
            print("udp %s:%d answered" % (host, port))
            return
    raise AssertionError("udp %s:%d: no answer" % (host, port))


def do_refused(host, port):
    try:
        with connect(host, port):
            pass
    except ConnectionRefusedError:
        print("tcp %s:%d refused, as expected" % (host, port))
        return
    raise AssertionError("tcp %s:%d accepted a connection" % (host, port))


def http_get(host, port, path):
    """The body of a GET; no proxy, whatever the environment says."""
    url = "http://%s:%d%s" % ("[%s]" % host if ":" in host else host,
                              port, path)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=TIMEOUT) as r:
        return r.read().decode("utf-8", "replace")


def do_get(host, port, path):
    sys.stdout.write(http_get(host, port, path))


def do_query(host, port, query):
    body = http_get(host, port, "/api/v1/query?" +
                    urllib.parse.urlencode({"query": query}))
    try:
        doc = json.loads(body)
        if doc["status"] != "success":
            raise ValueError("status %s" % doc["status"])
        values = [r["value"][1] for r in doc["data"]["result"]]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise AssertionError("query %r: %s: %s" % (query, e, body[:500]))
    for v in values:
        print(v)


def do_hold(host, port, d):
    with connect(host, port) as s:
        exchange(s, b"before the reload\n")
        open(os.path.join(d, "ready"), "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(d, "go")):
            if time.monotonic() > deadline:
                raise AssertionError("no go within 60 s")
            time.sleep(0.05)
        exchange(s, b"after the reload, same connection\n")
    with open(os.path.join(d, "result"), "w") as f:
        f.write("ok\n")
    print("the connection opened before the reload was served after it")


def do_stream(host, port, secs):
    counts = {"ok": 0, "refused": 0, "reset": 0, "timeout": 0,
              "closed": 0, "other": 0}
    first = {}
    deadline = time.monotonic() + secs
    n = 0
    while time.monotonic() < deadline and n < 20000:
        n += 1
        msg = b"stream %d\n" % n
        try:
            with connect(host, port) as s:
                exchange(s, msg)
            counts["ok"] += 1
            time.sleep(0.002)
            continue
        except ConnectionRefusedError as e:
            kind = "refused"
            err = e
        except ConnectionResetError as e:
            kind = "reset"
            err = e
        except socket.timeout as e:
            kind = "timeout"
            err = e
        except AssertionError as e:
            kind = "closed"
            err = e
        except OSError as e:
            kind = "reset" if e.errno == errno.EPIPE else "other"
            err = e
        counts[kind] += 1
        first.setdefault(kind, "#%d: %s" % (n, err))
        time.sleep(0.01)
    print(" ".join("%s=%d" % kv for kv in counts.items()))
    for kind, what in first.items():
        print("first %s: %s" % (kind, what))
    # A connection accepted by the daemon that is stopping, but whose
    # line had not arrived yet when it stopped, is closed unanswered: an
    # idle connection at stop time.  One client, one connection at a
    # time: at most one per stop.  Anything else is a failure.
    bad = n - counts["ok"] - counts["closed"]
    if counts["ok"] == 0 or bad > 0 or counts["closed"] > 1:
        sys.exit(1)


class Conn:
    """One TCP connection of the steady load: connecting, exchanging (a
    line sent, its reply awaited) or, for a held one, idle until its next
    line."""
    __slots__ = ("sock", "held", "state", "msg", "out", "got", "t0",
                 "deadline", "next")


def do_steady(host, port, secs, nheld, udp):
    """Figures printed (NAME=COUNT, one line):

    new_*   new connections.  ok: answered byte for byte.  Failed before
            the connection was established: refused (ECONNREFUSED),
            conn_timeout (no SYN-ACK within 5 s: a full backlog).  Failed
            once established, i.e. broken in flight: reset (ECONNRESET or
            EPIPE), closed (end of file before the whole reply), timeout
            (no whole reply within 5 s).  wrong: a reply that is not the
            line in upper case.  other: any other error.  skipped: not
            opened, 200 already in flight.  late: answered, but more than
            500 ms after connect() (it waited in the backlog).  max_ms:
            the longest time from connect() to the whole reply of an
            answered one.
    held_*  the long-lived connections: held (how many), ok (lines
            answered), the same failure kinds (a broken one is reopened
            10 ms later), max_ms: the longest exchange of a line.
    max_gap_ms  the longest time without any TCP answer, from the start
            to the end of the load: with one outage, how long it took for
            answers to resume.
    udp_*   sent, answered (byte for byte), wrong, late (answered more than
            500 ms after it was sent: it waited for a daemon), max_ms,
            bytes (of the answers checked).
    """
    interval = 0.010
    max_inflight = 200
    t_start = time.monotonic()
    t_end = t_start + secs
    t_stop = t_end + TIMEOUT + 3.0      # hard bound of the drain
    sel = selectors.DefaultSelector()
    new = dict.fromkeys(("ok", "refused", "conn_timeout", "reset", "closed",
                         "timeout", "wrong", "other", "skipped", "late",
                         "max_ms", "bytes"), 0)
    held = dict.fromkeys(("held", "ok", "refused", "conn_timeout", "reset",
                          "closed", "timeout", "wrong", "other", "max_ms",
                          "bytes"), 0)
    held["held"] = nheld
    firsts = {}
    state = {"last_ok": t_start, "max_gap": 0.0, "inflight": 0, "n": 0}
    conns = set()
    reopen = []         # times at which to reopen a broken held connection

    def answered(now):
        state["max_gap"] = max(state["max_gap"], now - state["last_ok"])
        state["last_ok"] = now

    def close(c):
        if c.sock is not None:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None
        conns.discard(c)
        if not c.held:
            state["inflight"] -= 1

    def fail(c, kind, what, now):
        counts = held if c.held else new
        counts[kind] += 1
        firsts.setdefault(("held " if c.held else "new ") + kind,
                          "%.3f s: %s" % (now - t_start, what))
        close(c)
        if c.held and now < t_end:
            reopen.append(now + interval)

    def open_conn(is_held, now):
        c = Conn()
        c.held, c.sock, c.out, c.got = is_held, None, b"", b""
        c.t0, c.deadline, c.next = now, now + TIMEOUT, 0.0
        c.state = "connecting"
        if not is_held:
            state["inflight"] += 1
        conns.add(c)
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.setblocking(False)
        c.sock = s
        err = s.connect_ex((host, port))
        if err in (0, errno.EINPROGRESS):
            sel.register(s, selectors.EVENT_WRITE, c)
        else:
            fail(c, "refused" if err == errno.ECONNREFUSED else "other",
                 "connect: %s" % os.strerror(err), now)

    def send_line(c, now):
        state["n"] += 1
        c.msg = b"%s line %d of the steady load\n" % (
            b"held" if c.held else b"new", state["n"])
        c.out, c.got = c.msg, b""
        c.state = "exchanging"
        if c.held:
            c.t0, c.deadline = now, now + TIMEOUT
        write_some(c, now)

    def write_some(c, now):
        try:
            k = c.sock.send(c.out)
        except BlockingIOError:
            k = 0
        except (ConnectionResetError, BrokenPipeError) as e:
            fail(c, "reset", "send: %s" % e, now)
            return
        except OSError as e:
            fail(c, "other", "send: %s" % e, now)
            return
        c.out = c.out[k:]
        sel.modify(c.sock, selectors.EVENT_READ |
                   (selectors.EVENT_WRITE if c.out else 0), c)

    def on_event(c, mask, now):
        if c.state == "connecting":
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                fail(c, "refused" if err == errno.ECONNREFUSED else "other",
                     "connect: %s" % os.strerror(err), now)
                return
            send_line(c, now)
            return
        if mask & selectors.EVENT_WRITE and c.out:
            write_some(c, now)
            if c.sock is None:
                return
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionResetError as e:
            fail(c, "reset", "recv: %s" % e, now)
            return
        except OSError as e:
            fail(c, "other", "recv: %s" % e, now)
            return
        if not data:
            fail(c, "closed", "end of file after %r of the reply to %r" % (
                c.got, c.msg) if c.state == "exchanging" else
                "end of file on an idle connection", now)
            return
        if c.state != "exchanging":
            fail(c, "wrong", "unexpected %r on an idle connection" % data,
                 now)
            return
        c.got += data
        want = upper(c.msg)
        if not want.startswith(c.got):
            fail(c, "wrong", "sent %r, got %r" % (c.msg, c.got), now)
            return
        if len(c.got) < len(want):
            return
        counts = held if c.held else new
        counts["ok"] += 1
        counts["bytes"] += len(want)
        ms = int((now - c.t0) * 1000 + 0.5)
        counts["max_ms"] = max(counts["max_ms"], ms)
        if ms > 500 and not c.held:
            counts["late"] += 1
        answered(now)
        if c.held and now < t_end:
            c.state, c.next = "idle", now + interval
        else:
            close(c)

    us = None
    usent, ugot = {}, set()
    uc = dict.fromkeys(("sent", "answered", "wrong", "late", "max_ms",
                        "bytes"), 0)
    if udp:
        us = socket.socket(family(host), socket.SOCK_DGRAM)
        us.setblocking(False)
        sel.register(us, selectors.EVENT_READ, None)

    def udp_read(now):
        while True:
            try:
                got, _ = us.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                firsts.setdefault("udp", "recv: %s" % e)
                return
            try:
                seq = int(got.split()[2])
            except (IndexError, ValueError):
                seq = -1
            if seq not in usent or seq in ugot or \
                    got != upper(usent[seq][0]):
                uc["wrong"] += 1
                firsts.setdefault("udp wrong", "got %r" % got)
                continue
            ugot.add(seq)
            uc["answered"] += 1
            uc["bytes"] += len(got)
            ms = int((now - usent[seq][1]) * 1000 + 0.5)
            uc["max_ms"] = max(uc["max_ms"], ms)
            if ms > 500:
                uc["late"] += 1

    for _ in range(nheld):
        open_conn(True, t_start)
    next_new = next_udp = t_start
    while True:
        now = time.monotonic()
        if now >= t_stop:
            break
        if now >= t_end and not conns and not reopen and \
                (us is None or uc["answered"] + uc["wrong"] >= uc["sent"] or
                 now >= t_end + 3.0):
            break
        # Due work: new connections, lines on held ones, reopenings,
        # datagrams, time-outs.
        while now < t_end and next_new <= now:
            if state["inflight"] < max_inflight:
                open_conn(False, now)
            else:
                new["skipped"] += 1
            next_new += interval
        while us is not None and now < t_end and next_udp <= now:
            seq = uc["sent"]
            msg = b"udp datagram %d of the steady load" % seq
            try:
                us.sendto(msg, (host, port))
                usent[seq] = (msg, now)
                uc["sent"] += 1
            except OSError as e:
                firsts.setdefault("udp", "sendto: %s" % e)
            next_udp += interval
        for t in [t for t in reopen if t <= now]:
            reopen.remove(t)
            if now < t_end:
                open_conn(True, now)
        wake = t_stop
        for c in list(conns):
            if c.state == "idle":
                if now >= t_end:
                    close(c)
                elif c.next <= now:
                    send_line(c, now)
                else:
                    wake = min(wake, c.next)
            elif c.deadline <= now:
                fail(c, "conn_timeout" if c.state == "connecting"
                     else "timeout", "no answer in %.0f s" % TIMEOUT, now)
            else:
                wake = min(wake, c.deadline)
        if now < t_end:
            wake = min(wake, next_new, next_udp if us else t_end)
        wake = min([wake] + reopen)
        for key, mask in sel.select(max(0.0, min(wake - now, 0.05))):
            now = time.monotonic()
            if key.data is None:
                udp_read(now)
            elif key.data.sock is not None:
                on_event(key.data, mask, now)
    now = time.monotonic()
    for c in list(conns):
        fail(c, "conn_timeout" if c.state == "connecting" else "timeout",
             "still open at the end", now)
    if us is not None:
        us.close()
    sel.close()
    # Answers stopped before the load did: that gap counts too.
    state["max_gap"] = max(state["max_gap"],
                           min(now, t_end) - state["last_ok"])
    figures = ["new_%s=%d" % kv for kv in new.items()]
    figures += ["held_%s=%d" % kv if kv[0] != "held" else "held=%d" % kv[1]
                for kv in held.items()]
    figures.append("max_gap_ms=%d" % int(state["max_gap"] * 1000 + 0.5))
    if udp:
        figures += ["udp_%s=%d" % kv for kv in uc.items()]
    print(" ".join(figures))
    for kind, what in sorted(firsts.items()):
        print("first %s: %s" % (kind, what))


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    mode, host, port = argv[1], argv[2], int(argv[3])
    try:
        if mode == "tcp" and len(argv) == 4:
            do_tcp(host, port)
        elif mode == "tcp" and len(argv) == 5 and 0 < int(argv[4]) <= 1000:
            do_tcp(host, port, int(argv[4]))
        elif mode == "get" and len(argv) == 5:
            do_get(host, port, argv[4])
        elif mode == "query" and len(argv) == 5:
            do_query(host, port, argv[4])
        elif mode == "udp":
            do_udp(host, port)
        elif mode == "refused":
            do_refused(host, port)
        elif mode == "hold" and len(argv) == 5:
            do_hold(host, port, argv[4])
        elif mode == "stream" and len(argv) == 5:
            do_stream(host, port, float(argv[4]))
        elif mode == "steady" and len(argv) in (6, 7) and \
                0 < float(argv[4]) <= 60 and 0 <= int(argv[5]) <= 100 and \
                argv[6:] in ([], ["udp"]):
            do_steady(host, port, float(argv[4]), int(argv[5]),
                      argv[6:] == ["udp"])
        else:
            sys.stderr.write(__doc__)
            return 2
    except (AssertionError, OSError) as e:
        print("%s %s:%d: %s" % (mode, host, port, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
