#!/usr/bin/python3
"""Clients for the system test (tests/system/run.sh), run inside the
container.  Python 3 standard library only.  Every mode is bounded in time
and in count; every exchange checks the reply byte for byte.

  client.py tcp HOST PORT          one line over TCP, expect it in upper case
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

Exit status 0 on success, 1 on a wrong or missing answer, 2 on usage.
"""

import errno
import os
import socket
import sys
import time

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


def do_tcp(host, port):
    with connect(host, port) as s:
        exchange(s, b"hello, system test %d\n" % os.getpid())
    print("tcp %s:%d answered" % (host, port))


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


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    mode, host, port = argv[1], argv[2], int(argv[3])
    try:
        if mode == "tcp":
            do_tcp(host, port)
        elif mode == "udp":
            do_udp(host, port)
        elif mode == "refused":
            do_refused(host, port)
        elif mode == "hold" and len(argv) == 5:
            do_hold(host, port, argv[4])
        elif mode == "stream" and len(argv) == 5:
            do_stream(host, port, float(argv[4]))
        else:
            sys.stderr.write(__doc__)
            return 2
    except (AssertionError, OSError) as e:
        print("%s %s:%d: %s" % (mode, host, port, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
