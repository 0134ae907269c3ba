#!/usr/bin/env python3
"""Basic TCP and UDP echo, byte transparency, IPv4/IPv6 binding."""

import socket
import time

import harness
from harness import (Daemon, conf, diag, tcp_connect, tcp_echo, recv_exact,
                     check_bytes, upper, udp_exchange, udp_socket,
                     tcp_refused, LOCAL4, LOCAL6)


def need_ipv6():
    if not harness.ipv6_available():
        raise harness.Skip("no IPv6 loopback (::1) on this machine")


def test_tcp_echo_line():
    d = Daemon(conf())
    diag("time from exec to READY=1: %.1f ms" % d.ready_ms)
    s = tcp_connect(d.port)
    msg = b"Hello, World! abc xyz 0123 {}[]@`~\n"
    s.sendall(msg)
    got = recv_exact(s, len(msg))
    check_bytes(got, b"HELLO, WORLD! ABC XYZ 0123 {}[]@`~\n")
    # the session goes on
    tcp_echo(s, b"second line\n")


def test_tcp_echo_partial_line_without_newline():
    """A stream: bytes come back without waiting for a newline."""
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"hello")
    check_bytes(recv_exact(s, 5, timeout=3), b"HELLO")
    # a prefix of the exit command may be held back, but must come back
    # once the line turns out to be something else
    s.sendall(b"ex")
    time.sleep(0.2)
    s.sendall(b"tra\n")
    check_bytes(recv_exact(s, 6, timeout=3), b"EXTRA\n")


def test_tcp_all_256_byte_values():
    # "ascii": each byte stands alone (under "unicode" a lone UTF-8 lead
    # byte such as 0xe9 waits for the next one: see test_unicode.py)
    d = Daemon(conf(transform="ascii"))
    s = tcp_connect(d.port)
    data = bytes(range(256)) * 4 + bytes(range(255, -1, -1))
    s.sendall(data)
    got = recv_exact(s, len(data))
    expect = bytes((b - 32) if 97 <= b <= 122 else b for b in data)
    check_bytes(got, expect)
    # and each value alone, NUL and 0xff included, in its own write
    for b in (0, 10, 13, 96, 97, 122, 123, 127, 128, 0xe9, 255):
        s.sendall(bytes([b]))
        check_bytes(recv_exact(s, 1), upper(bytes([b])),
                    "reply to byte 0x%02x" % b)


def _large_stream(transform, expect_fn):
    d = Daemon(conf(transform=transform))
    s = tcp_connect(d.port)
    data = harness.random_bytes(1 << 20, seed=1)
    want = expect_fn(data)
    t0 = time.monotonic()
    th, res = harness.sender_thread(s, data)
    got = recv_exact(s, len(want), timeout=20)
    th.join(5)
    assert res["error"] is None, res["error"]
    check_bytes(got, want)
    harness.expect_silence(s, 0.1)
    diag("1 MiB of random bytes echoed (%s) in %.3f s" %
         (transform, time.monotonic() - t0))


def test_tcp_large_stream_roundtrip_unicode():
    # random bytes hold valid UTF-8 sequences now and then (e.g. c3 a9)
    _large_stream("unicode", harness.upper_unicode)


def test_tcp_large_stream_roundtrip_ascii():
    _large_stream("ascii", upper)


def test_udp_echo():
    d = Daemon(conf())
    for msg in (b"hello udp", b"x", b"Mixed Case 123 \x00\xff\n",
                bytes(range(256))):
        reply = udp_exchange(d.port, msg)
        assert reply is not None, "no UDP reply to %r" % msg[:40]
        check_bytes(reply, upper(msg))


def test_udp_65507_byte_datagram():
    d = Daemon(conf())
    data = harness.random_bytes(65507, seed=2)
    s = udp_socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    reply = udp_exchange(d.port, data, sock=s, timeout=3)
    assert reply is not None, "no reply to a 65507-byte datagram"
    check_bytes(reply, harness.upper_unicode(data, grow=False))
    assert len(reply) <= len(data)
    # and the sizes around the usual MTU limits
    for n in (1, 1472, 1473, 8972, 9000, 65506):
        msg = harness.fill_random_lower(n, seed=n)
        reply = udp_exchange(d.port, msg, sock=s)
        assert reply is not None, "no reply to a %d-byte datagram" % n
        check_bytes(reply, upper(msg), "reply to %d bytes" % n)


def test_tcp_and_udp_on_several_ports():
    d = Daemon(conf(tcp="[ {P0}, {P1}, {P2} ]", udp="[ {P0}, {P1}, {P2} ]"),
               nports=3)
    for p in d.ports:
        s = tcp_connect(p)
        tcp_echo(s, b"port %d\n" % p)
        reply = udp_exchange(p, b"port %d" % p)
        assert reply == b"PORT %d" % p, "UDP port %d replied %r" % (p, reply)


def test_tcp_only_and_udp_only():
    """An empty list means no socket of that protocol."""
    d = Daemon(conf(tcp="[ {P0} ]", udp="[ ]"))
    tcp_echo(tcp_connect(d.port), b"tcp only\n")
    assert not harness.udp_bound(d.port), "UDP port %d bound" % d.port
    assert udp_exchange(d.port, b"x", timeout=0.5) is None
    d.stop()
    d2 = Daemon(conf(tcp="[ ]", udp="[ {P0} ]"))
    assert udp_exchange(d2.port, b"udp only") == b"UDP ONLY"
    assert tcp_refused(d2.port), "TCP port %d accepts" % d2.port


def test_ipv6_dual_stack_bind():
    """bind = "::" serves 127.0.0.1 and ::1, TCP and UDP."""
    need_ipv6()
    d = Daemon(conf(bind='"::"'))
    for host in (LOCAL4, LOCAL6):
        s = tcp_connect(d.port, host=host)
        tcp_echo(s, b"via %s\n" % host.encode())
        reply = udp_exchange(d.port, b"via %s" % host.encode(), host=host)
        assert reply == upper(b"via %s" % host.encode()), \
            "UDP via %s: %r" % (host, reply)


def test_ipv4_bind_refuses_ipv6():
    need_ipv6()
    d = Daemon(conf(bind='"127.0.0.1"'))
    tcp_echo(tcp_connect(d.port), b"v4\n")
    assert tcp_refused(d.port, host=LOCAL6), \
        "TCP to [::1]:%d not refused with bind 127.0.0.1" % d.port
    assert udp_exchange(d.port, b"v6", host=LOCAL6, timeout=0.5) is None, \
        "UDP to [::1] answered with bind 127.0.0.1"


def test_ipv6_only_bind_refuses_ipv4():
    need_ipv6()
    d = Daemon(conf(bind='"::1"'))
    tcp_echo(tcp_connect(d.port, host=LOCAL6), b"v6\n")
    assert tcp_refused(d.port, host=LOCAL4), \
        "TCP to 127.0.0.1:%d not refused with bind ::1" % d.port
    assert udp_exchange(d.port, b"v4", timeout=0.5) is None


def test_bind_list_ipv4_and_ipv6():
    need_ipv6()
    d = Daemon(conf(bind='[ "127.0.0.1", "::1" ]'))
    for host in (LOCAL4, LOCAL6):
        tcp_echo(tcp_connect(d.port, host=host), b"list %s\n" % host.encode())
        reply = udp_exchange(d.port, b"list", host=host)
        assert reply == b"LIST", "UDP via %s: %r" % (host, reply)


if __name__ == "__main__":
    harness.run_tests(globals())
