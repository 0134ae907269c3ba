#!/usr/bin/env python3
"""UDP: echo, sizes, reply source, the loop guards (source port below 1024
or one of the daemon's own UDP ports), bursts."""

import os
import select
import socket
import time

import harness
from harness import (Daemon, conf, diag, udp_exchange, udp_socket,
                     check_bytes, upper, LOCAL4)


def test_udp_echo_sizes():
    d = Daemon(conf(tcp="[ ]"))
    s = udp_socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    for n in (1, 2, 7, 100, 512, 1400, 4096, 32768, 65000, 65507):
        msg = harness.fill_random_lower(n, seed=n)
        reply = udp_exchange(d.port, msg, sock=s)
        assert reply is not None, "no reply to %d bytes" % n
        check_bytes(reply, upper(msg), "reply to %d bytes" % n)


def test_udp_empty_datagram():
    """An empty datagram is a datagram too: answered with an empty one."""
    d = Daemon(conf(tcp="[ ]"))
    reply = udp_exchange(d.port, b"", timeout=1)
    assert reply == b"", "reply to an empty datagram: %r" % (reply,)
    assert udp_exchange(d.port, b"after") == b"AFTER"


def test_udp_reply_from_the_port_asked():
    """With several ports, each reply comes from the port (and address) the
    request went to: a connected client socket accepts only that."""
    d = Daemon(conf(tcp="[ ]", udp="[ {P0}, {P1} ]", bind='"127.0.0.1"'),
               nports=2)
    for p in d.ports:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        harness.defer(c.close)
        c.connect((LOCAL4, p))
        c.send(b"connected to %d" % p)
        c.settimeout(2)
        try:
            reply = c.recv(100)
        except socket.timeout:
            raise AssertionError("no reply on a socket connected to "
                                 "127.0.0.1:%d" % p)
        assert reply == b"CONNECTED TO %d" % p, reply


def test_udp_reply_source_on_wildcard_bind():
    """bind "::": the reply to 127.0.0.1 comes from 127.0.0.1, the reply to
    ::1 from ::1 (a connected socket accepts nothing else)."""
    if not harness.ipv6_available():
        raise harness.Skip("no IPv6")
    d = Daemon(conf(tcp="[ ]", bind='"::"'))
    for host in (LOCAL4, harness.LOCAL6):
        c = socket.socket(harness.family_of(host), socket.SOCK_DGRAM)
        harness.defer(c.close)
        c.connect((host, d.port))
        c.send(b"wildcard")
        c.settimeout(2)
        try:
            assert c.recv(100) == b"WILDCARD"
        except socket.timeout:
            raise AssertionError("no reply via %s" % host)


def free_low_port(host=LOCAL4):
    """A UDP socket bound to host on a free port below 1024."""
    for p in range(1023, 600, -1):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((host, p))
            harness.defer(s.close)
            return s
        except OSError:
            s.close()
    raise AssertionError("no free UDP port below 1024")


def test_udp_source_port_below_1024_dropped():
    if os.geteuid() != 0:
        raise harness.Skip("binding a port below 1024 needs root")
    d = Daemon(conf(tcp="[ ]"))
    low = free_low_port()
    diag("client bound to %s:%d" % low.getsockname())
    reply = udp_exchange(d.port, b"from a low port", sock=low, timeout=1)
    assert reply is None, "answered a datagram from port %d: %r" % (
        low.getsockname()[1], reply)
    # control: the same message from a high port is answered
    assert udp_exchange(d.port, b"from a low port") == b"FROM A LOW PORT"
    # and 1024 itself is not "below 1024"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    harness.defer(s.close)
    try:
        s.bind((LOCAL4, 1024))
    except OSError:
        diag("port 1024 busy: boundary not checked")
        return
    assert udp_exchange(d.port, b"from 1024", sock=s) == b"FROM 1024", \
        "no answer to source port 1024"


def test_udp_source_is_own_port_dropped():
    """The daemon listens on UDP ports A and B of 127.0.0.1.  A client
    bound to 127.0.0.2:B (the same port number, another loopback address,
    so no conflict with the daemon's socket) sends to 127.0.0.1:A: the
    source port is one of the daemon's own, so no reply.  Control: from
    127.0.0.2:C (not the daemon's) the reply comes."""
    d = Daemon(conf(tcp="[ ]", udp="[ {P0}, {P1} ]", bind='"127.0.0.1"'),
               nports=3)
    a, b, c = d.ports
    try:
        own = udp_socket(LOCAL4, bind_port=b, bind_host="127.0.0.2")
        other = udp_socket(LOCAL4, bind_port=c, bind_host="127.0.0.2")
    except OSError as e:
        raise harness.Skip("cannot bind 127.0.0.2: %s" % e)
    reply = udp_exchange(a, b"loop?", sock=other, timeout=2)
    assert reply == b"LOOP?", "control from 127.0.0.2:%d got %r" % (c, reply)
    reply = udp_exchange(a, b"loop?", sock=own, timeout=1)
    assert reply is None, "answered a datagram from its own port %d: %r" % (
        b, reply)
    # from A to A as well (the port it was sent to)
    try:
        same = udp_socket(LOCAL4, bind_port=a, bind_host="127.0.0.2")
    except OSError as e:
        diag("cannot bind 127.0.0.2:%d: %s" % (a, e))
        return
    reply = udp_exchange(a, b"loop?", sock=same, timeout=1)
    assert reply is None, "answered a datagram from port %d to port %d" % (
        a, a)


def test_udp_burst():
    """1000 datagrams in windows of 50: every one answered, in content."""
    d = Daemon(conf(tcp="[ ]"))
    s = udp_socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.connect((LOCAL4, d.port))
    t0 = time.monotonic()
    lost = 0
    for w in range(20):
        want = set()
        for i in range(50):
            msg = b"burst %d.%d abcdefghijklmnopqrstuvwxyz" % (w, i)
            want.add(upper(msg))
            s.send(msg)
        deadline = time.monotonic() + 2
        while want and time.monotonic() < deadline:
            if not select.select([s], [], [], 0.2)[0]:
                continue
            r = s.recv(2000)
            assert r in want, "unexpected reply %r" % r
            want.discard(r)
        lost += len(want)
    elapsed = time.monotonic() - t0
    diag("1000 datagrams answered in %.3f s, %d lost" % (elapsed, lost))
    assert lost == 0, "%d of 1000 datagrams not answered" % lost


def test_udp_many_sources():
    """Replies go to each datagram's own source."""
    d = Daemon(conf(tcp="[ ]"))
    socks = [udp_socket() for _ in range(30)]
    for i, s in enumerate(socks):
        s.sendto(b"source %d" % i, (LOCAL4, d.port))
    for i, s in enumerate(socks):
        if not select.select([s], [], [], 2)[0]:
            raise AssertionError("source %d got no reply" % i)
        check_bytes(s.recv(100), b"SOURCE %d" % i)


if __name__ == "__main__":
    harness.run_tests(globals())
