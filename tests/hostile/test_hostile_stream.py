#!/usr/bin/env python3
"""Hostile streams on one TCP connection: a client that sends 64 MiB and
never reads, one that writes a byte at a time, random binary with every
byte value.

Each case prints "# FIGURE case | figure | bound" (collected by run.sh)
and asserts its bound.
"""

import select
import socket
import time

import hostile
import harness
from harness import Daemon, check_bytes, recv_exact, recv_until_eof
from hostile import connect_from, figure, hconf, poll_one, timed_echo


@harness.timeout(90)
def test_02_never_reads_64mib():
    """64 MiB sent by a client that never reads: the daemon queues at
    most max_pending_output (1 MiB) for it and stops reading, so the
    client's send stalls long before 64 MiB and the daemon's RSS stays
    flat; other clients are served meanwhile; nothing is lost."""
    total = 64 << 20
    rss_bound = 4096
    d = Daemon(hconf(limits={"max_pending_output": 1 << 20}))
    scale = hostile.time_scale(d)
    if d.sanitizer():
        rss_bound = 16384     # shadow memory; still tells 1 MiB from 64
    # warm up both workers (scratch buffers, malloc arenas) first
    for i in range(4):
        s = connect_from("127.0.5.9", d.port)
        harness.tcp_echo(s, harness.fill_random_lower(256 << 10, seed=i))
        s.close()
    time.sleep(0.3)
    base = d.rss_kb()
    s = connect_from("127.0.5.1", d.port, blocking=False)
    block = harness.fill_random_lower(1 << 20, seed=64)
    sent = 0
    peak = base
    t0 = time.monotonic()
    last_progress = t0
    stalled = False
    while sent < total:
        now = time.monotonic()
        if now - last_progress > 2.0:
            stalled = True
            break
        if now - t0 > 30:
            break
        peak = max(peak, d.rss_kb())
        if not poll_one(s, select.POLLOUT, 0.2):
            continue
        off = sent % len(block)
        try:
            n = s.send(block[off:off + 262144])
        except BlockingIOError:
            continue
        sent += n
        last_progress = time.monotonic()
    t_stall = last_progress - t0
    # while it is stalled, others are served promptly
    lat = []
    for i in range(20):
        lat.append(timed_echo(d.port, "127.0.5.2", b"other client %d\n" % i))
        peak = max(peak, d.rss_kb())
    for _ in range(5):
        peak = max(peak, d.rss_kb())
        time.sleep(0.1)
    growth = peak - base
    figure("02 never-reads 64 MiB",
           "sent %.1f MiB then stalled (after %.1f s); RSS %d -> peak %d "
           "KiB (+%d KiB); 20 other clients max %.1f ms" %
           (sent / 1048576.0, t_stall, base, peak, growth,
            max(lat) * 1000),
           "stall < 64 MiB; RSS growth <= %d KiB; other echo < %.1f s" %
           (rss_bound, 1.0 * scale))
    assert stalled and sent < total, \
        "the send never stalled: %.1f MiB taken in without a read" % (
            sent / 1048576.0)
    assert growth <= rss_bound, "RSS grew by %d KiB (> %d KiB)" % (
        growth, rss_bound)
    assert max(lat) < 1.0 * scale, "another client waited %.2f s" % max(lat)
    # nothing lost: the client now reads back everything it sent
    s.setblocking(True)
    got = recv_exact(s, sent, timeout=30)
    for off in range(0, sent, len(block)):
        n = min(len(block), sent - off)
        check_bytes(got[off:off + n], harness.upper(block[:n]),
                    "backlog at offset %d" % off)
    harness.tcp_echo(s, b"and the session goes on\n")


def byte_text(n, seed):
    """n bytes of text that exercises the unicode transform when cut
    anywhere: 2-, 3- and 4-byte characters, one that grows when
    uppercased, invalid and overlong sequences, surrogates, CR LF, and
    lines starting with a prefix of the exit command (held back, then
    replayed), but never the exit line itself."""
    rnd = harness.random.Random(seed)
    tokens = [b"hello ", b"stra\xc3\x9fe ", "σίσυφος ".encode(),
              "\u0250\u0250 ".encode(), "é".encode(), "\U0001f600".encode(),
              b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82",
              b"\n", b"\r\n", b"\nexi", b"\nex", b"\ne", b" a-z ", b"\x00"]
    out = bytearray()
    while len(out) < n:
        out += rnd.choice(tokens)
    del out[n:]
    data = bytes(out)
    assert b"\nexit\n" not in data and b"\nexit\r\n" not in data
    return data


@harness.timeout(60)
def test_03_byte_at_a_time():
    """20 KiB of UTF-8 (and not) text, one byte per send() with
    TCP_NODELAY, so every character arrives cut: the reply is the unicode
    transform of the whole, complete and in order.  A pause of about
    0.1 ms after each byte makes the daemon read them one by one (without
    it, about 15 bytes pile up per read)."""
    n = 20 << 10
    d = Daemon(hconf(transform="unicode"))
    data = byte_text(n, seed=3)
    expect = harness.upper_unicode(data)
    s = connect_from("127.0.5.3", d.port)
    t0 = time.monotonic()
    for i in range(n):
        s.send(data[i:i + 1])
        time.sleep(0.00005)
    t_sent = time.monotonic() - t0
    s.shutdown(socket.SHUT_WR)
    got = recv_until_eof(s, timeout=20)
    t_all = time.monotonic() - t0
    ok = got == expect
    figure("03 byte-at-a-time 20 KiB",
           "%d sends of 1 byte in %.2f s (%.0f bytes/s); reply %d of %d "
           "bytes %s at %.2f s" % (n, t_sent, n / t_sent, len(got),
                                  len(expect),
                                  "exact" if ok else "WRONG", t_all),
           "reply == model (unicode); all within 20 s")
    check_bytes(got, expect, "byte-at-a-time reply")
    assert t_all < 20, "took %.1f s" % t_all


def all_bytes_random(n, seed):
    """n random bytes that contain every byte value (and all 65536
    pairs are very likely)."""
    return bytes(range(256)) + harness.random_bytes(n - 256, seed=seed)


def binary_roundtrip(case, transform, model, seed):
    size = 16 << 20
    d = Daemon(hconf(transform=transform))
    scale = hostile.time_scale(d)
    data = all_bytes_random(size, seed)
    assert len(set(data[:256])) == 256
    expect = model(data)
    s = connect_from("127.0.5.4", d.port)
    t0 = time.monotonic()
    th, res = harness.sender_thread(s, data, chunk=1 << 20,
                                    then_shutdown=True, timeout=60)
    got = recv_until_eof(s, timeout=60, limit=2 * size)
    elapsed = time.monotonic() - t0
    th.join(5)
    ok = got == expect
    figure(case, "16 MiB in %.2f s = %.1f MiB/s; reply %s (%d bytes)" %
           (elapsed, 16 / elapsed, "exact" if ok else "WRONG", len(got)),
           "reply == model; < %.0f s" % (30 * scale))
    assert res["error"] is None, "sender: %s" % res["error"]
    check_bytes(got, expect, "16 MiB %s reply" % transform)
    assert elapsed < 30 * scale, "took %.1f s" % elapsed


@harness.timeout(90)
def test_04_binary_16mib_ascii():
    """16 MiB of random binary, every byte value, transform "ascii":
    the reply is harness.upper() of it, byte for byte."""
    binary_roundtrip("04 binary 16 MiB ascii", "ascii", harness.upper, 41)


@harness.timeout(90)
def test_04b_binary_16mib_unicode():
    """The same through the "unicode" transform (random binary is mostly
    invalid UTF-8, with valid characters cut across reads): the reply is
    harness.upper_unicode() of it."""
    binary_roundtrip("04b binary 16 MiB unicode", "unicode",
                     harness.upper_unicode, 42)


if __name__ == "__main__":
    hostile.raise_nofile()
    harness.run_tests(globals())
