#!/usr/bin/env python3
"""transform = "unicode" (the default) against the running daemon.

The transform itself is unit-tested against every reference case
(tests/unit/check_unicode.c); here: what the network adds.  Characters cut
across TCP segments, cut by the client's FIN or by the exit line, growth
on TCP and no growth on UDP, the reference strings through a socket, and
switching the transform by reload with a client connected.
"""

import time

import harness
from harness import (Daemon, check_bytes, conf, diag, expect_eof,
                     recv_exact, recv_until_eof, tcp_connect, tcp_echo,
                     udp_exchange, upper_unicode)


def reference_strings():
    import os
    path = os.path.join(harness.SRCDIR, "tests", "data", "unicode",
                        "strings-go-toupper.tsv")
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b = line.split()[:2]
            out.append((bytes.fromhex(a), bytes.fromhex(b)))
    return out


def test_model_matches_go_reference():
    # the harness model is what the other tests trust: check it first
    bad = [a for a, b in reference_strings() if upper_unicode(a) != b]
    # strings with code points newer Unicode changed may differ from Go
    diag("%d of %d reference strings differ from Go's Unicode 13 output "
         "in the model (newer mappings)" % (len(bad),
                                            len(reference_strings())))
    assert len(bad) <= 10, bad[:3]


def test_reference_strings_over_tcp():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    for a, _ in reference_strings():
        want = upper_unicode(a + b"\n")
        s.sendall(a + b"\n")
        check_bytes(recv_exact(s, len(want)), want)


def test_character_split_byte_by_byte():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    text = "café ÿ Straße ǅ ᾳ ı ɐ 😀 σς\n".encode()
    for b in text:
        s.sendall(bytes([b]))
        time.sleep(0.002)
    want = upper_unicode(text)
    check_bytes(recv_exact(s, len(want)), want)
    assert "CAFÉ Ÿ STRAßE Ǆ ᾼ I Ɐ 😀 ΣΣ\n".encode() == want, want


def test_lone_lead_byte_waits_for_the_next():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"\xc3")
    harness.expect_silence(s, 0.3)          # could still become e-acute
    s.sendall(b"\xa9!")
    check_bytes(recv_exact(s, 3), "É!".encode())
    s.sendall(b"\xe9")                      # a lead byte ...
    harness.expect_silence(s, 0.2)
    s.sendall(b"x")                         # ... that was not one
    check_bytes(recv_exact(s, 2), b"\xe9X")


def test_cut_character_at_fin_comes_back_unchanged():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"abc\xe2\x82")
    s.shutdown(harness.socket.SHUT_WR)
    check_bytes(recv_until_eof(s), b"ABC\xe2\x82")


def test_exit_line_after_cut_character():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    s.sendall(b"\xc3\nexit\nlost\n")
    check_bytes(recv_until_eof(s), b"\xc3\n")


def test_utf8_exit_command():
    d = Daemon(conf(exit_command="ausgang\u00e9"))
    s = tcp_connect(d.port)
    tcp_echo(s, b"abc\n")
    line = "ausgangé\n".encode()
    for b in line:                          # cut inside the é too
        s.sendall(bytes([b]))
        time.sleep(0.002)
    expect_eof(s, allow_reset=True)


def test_tcp_grows_udp_does_not():
    d = Daemon(conf())
    text = "ɐɑ ı é".encode()                # U+0250/U+0251 grow: 2 -> 3
    s = tcp_connect(d.port)
    want = "ⱯⱭ I É".encode()
    s.sendall(text)
    check_bytes(recv_exact(s, len(want)), want)
    assert len(want) > len(text)
    reply = udp_exchange(d.port, text)
    assert reply is not None, "no UDP reply"
    check_bytes(reply, "ɐɑ I É".encode(), "UDP reply (no growth)")
    assert len(reply) <= len(text)
    diag("TCP: %d -> %d bytes; UDP: %d -> %d bytes" %
         (len(text), len(want), len(text), len(reply)))


def test_udp_random_never_longer():
    d = Daemon(conf())
    s = harness.udp_socket()
    for seed in range(20):
        data = harness.random_bytes(2000, seed=100 + seed) + \
            "ɐ".encode() * 50
        reply = udp_exchange(d.port, data, sock=s)
        assert reply is not None, "no reply (seed %d)" % seed
        check_bytes(reply, upper_unicode(data, grow=False))
        assert len(reply) <= len(data)


def test_reload_switches_transform_keeps_bytes():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    tcp_echo(s, b"x\n")
    s.sendall("é".encode() + b"\xc3")      # É sent, 0xc3 carried
    check_bytes(recv_exact(s, 2), "É".encode())
    d.reload(conf(transform="ascii"))
    s.sendall(b"\xa9 \xc3\xa9 z\n")
    # the carried byte goes out unchanged; ascii leaves é alone
    check_bytes(recv_exact(s, 8), b"\xc3\xa9 \xc3\xa9 Z\n")
    d.reload(conf(transform="unicode"))
    s.sendall("é\n".encode())
    check_bytes(recv_exact(s, 3), "É\n".encode())


if __name__ == "__main__":
    harness.run_tests(globals())
