#!/usr/bin/env python3
"""PROXY protocol from a trusted balancer (proxy_protocol.from).

The "balancer" is this test, connecting from 127.0.0.1 (trusted) and
sending the header itself; other loopback addresses (127.0.0.2...) are
not trusted.  The client addresses named in headers are documentation
addresses (192.0.2.0/24): no socket has them, only the daemon's idea of
who the client is.
"""

import socket
import struct
import time

import harness
from harness import (Daemon, closed_unanswered, conf, connect_from, diag,
                     recv_exact, tcp_echo, wait_status)

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, sport=5000, dst="127.0.0.1", dport=8008):
    return b"PROXY TCP4 %s %s %d %d\r\n" % (src.encode(), dst.encode(),
                                            sport, dport)


def v2(src, sport=5000, dst="127.0.0.1", dport=8008):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport)
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


V2_LOCAL = V2_SIG + bytes([0x20, 0x00, 0x00, 0x00])


def proxy_conf(limits=None, timeout=5, level="debug"):
    return conf(level=level, limits=limits, extra=(
        'proxy_protocol = { from = [ "127.0.0.1", "10.0.0.0/8" ]; '
        'timeout = %d; };' % timeout))


def test_v1_and_v2_name_the_client():
    d = Daemon(proxy_conf())
    s = connect_from("127.0.0.1", d.port)
    s.sendall(v1("192.0.2.7") + b"hello v1\n")   # header + payload at once
    assert recv_exact(s, 9) == b"HELLO V1\n"
    tcp_echo(s, b"more\n")
    s.close()
    t = connect_from("127.0.0.1", d.port)
    hdr = v2("192.0.2.8", 4000)
    for i in range(len(hdr)):                    # a byte at a time
        t.sendall(hdr[i:i + 1])
        time.sleep(0.002)
    tcp_echo(t, b"hello v2\n")
    t.close()
    d.wait_stderr(r"connection from 192\.0\.2\.7:5000 via 127\.0\.0\.1:\d+"
                  r" \(PROXY v1\).*UPCASED_PEER=192\.0\.2\.7:5000.*"
                  r"UPCASED_PROXY=127\.0\.0\.1")
    d.wait_stderr(r"connection from 192\.0\.2\.8:4000 via 127\.0\.0\.1:\d+ "
                  r"closed")
    diag("the debug log names the client and the balancer")


def test_local_keeps_the_balancer():
    d = Daemon(proxy_conf())
    s = connect_from("127.0.0.1", d.port)
    s.sendall(V2_LOCAL + b"check\n")
    assert recv_exact(s, 6) == b"CHECK\n"
    s.close()
    u = connect_from("127.0.0.1", d.port)
    u.sendall(b"PROXY UNKNOWN whatever\r\nping\n")
    assert recv_exact(u, 5) == b"PING\n"
    u.close()


def test_untrusted_header_is_data():
    d = Daemon(proxy_conf())
    s = connect_from("127.0.0.2", d.port)
    hdr = v1("192.0.2.7")
    s.sendall(hdr + b"abc\n")
    got = recv_exact(s, len(hdr) + 4)
    assert got == hdr.upper() + b"ABC\n", got
    s.close()
    assert "192.0.2.7" not in d.stderr(), \
        "an untrusted peer's header was taken as its address"


def test_bad_header_closed_counted_warned():
    d = Daemon(proxy_conf(level="info"))
    bad = [b"PROXY TCP4 1.2.3\r\nhello\n", b"hello\n",
           V2_SIG + bytes([0x21, 0x31, 0, 0]) + b"x\n",   # AF_UNIX
           b"PROXY " + b"A" * 120 + b"\r\n"]               # > 107 bytes
    for data in bad:
        s = connect_from("127.0.0.1", d.port)
        s.sendall(data)
        assert closed_unanswered(s), "answered a bad header %r" % data
        s.close()
    d.wait_stderr(r"PROXY protocol: connection from balancer "
                  r"127\.0\.0\.1:\d+ closed unanswered")
    st = wait_status(d, lambda f: f.get("proxy_errors", 0) >= len(bad))
    assert st["proxy_errors"] == len(bad), st
    d.stop()
    assert "UPCASED_PROXY_ERRORS=%d" % len(bad) in d.stderr(), \
        d.stderr_tail()


def test_reset_in_header_counted():
    """A balancer's connection reset before its header is whole ended
    unanswered: a PROXY error like any other, not a served one."""
    d = Daemon(proxy_conf(level="info"))
    for _ in range(3):
        s = connect_from("127.0.0.1", d.port)
        s.sendall(v1("192.0.2.7")[:10])
        time.sleep(0.05)        # the daemon has read the part
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()               # RST
    st = wait_status(d, lambda f: f.get("proxy_errors", 0) >= 3)
    assert st["proxy_errors"] == 3 and st["served"] == 0, st
    d.wait_stderr("reset before its PROXY header was whole")


def test_header_timeout():
    d = Daemon(proxy_conf(timeout=1, level="info",
                          limits={"idle_timeout": 300}))
    s = connect_from("127.0.0.1", d.port)
    t0 = time.monotonic()
    s.sendall(v1("192.0.2.7")[:10])
    assert closed_unanswered(s, timeout=5), "not closed by the timeout"
    took = time.monotonic() - t0
    diag("an incomplete header closed after %.2f s (timeout 1 s)" % took)
    assert 0.9 <= took < 3.5, took
    d.wait_stderr("header not complete within proxy_protocol.timeout")


def test_per_source_limit_judges_the_client():
    d = Daemon(proxy_conf(level="info",
                          limits={"max_connections_per_source": 2}))
    conns = []
    # client A: 2 served, the third refused; all from the balancer
    for i in range(2):
        s = connect_from("127.0.0.1", d.port)
        s.sendall(v1("192.0.2.10", 6000 + i))
        tcp_echo(s, b"a%d\n" % i)
        conns.append(s)
    s = connect_from("127.0.0.1", d.port)
    s.sendall(v1("192.0.2.10", 6002) + b"a2\n")
    assert closed_unanswered(s), "client A's 3rd connection was served"
    # client B: served in full although the balancer holds 2 already
    for i in range(2):
        s = connect_from("127.0.0.1", d.port)
        s.sendall(v2("192.0.2.11", 7000 + i))
        tcp_echo(s, b"b%d\n" % i)
        conns.append(s)
    for s in conns:
        tcp_echo(s, b"still\n")
    d.wait_stderr(r"max_connections_per_source reached by 192\.0\.2\.10")
    diag("balancer 127.0.0.1 carries %d connections with "
         "max_connections_per_source = 2" % len(conns))


if __name__ == "__main__":
    harness.run_tests(globals())
