#!/usr/bin/env python3
"""Hostile UDP: datagrams from ports that could start an echo loop, and a
flood from one source next to an honest one.

Distinct sources are distinct loopback addresses (127.0.0.0/8).  Each
case prints "# FIGURE case | figure | bound" (collected by run.sh) and
asserts its bound.
"""

import os
import select
import socket
import struct
import threading
import time

import hostile
import harness
from harness import LOCAL4, LOCAL6, Daemon, diag, parse_status
from hostile import figure, hconf, udp_from


def status_after_reload(d):
    """Reload (which sends a fresh STATUS= once READY) and return the
    figures of that STATUS line."""
    d.reload()
    _, text = d.next_notify(lambda m: parse_status(m) is not None, 5,
                            "STATUS after the reload")
    return parse_status(text)


def bind_low(family, port):
    """A UDP socket bound to port (below 1024: needs root) on a loopback
    address, trying a few in case one is taken; None if none works."""
    addrs = [LOCAL6] if family == socket.AF_INET6 else \
        ["127.0.7.%d" % i for i in range(1, 6)]
    for a in addrs:
        s = socket.socket(family, socket.SOCK_DGRAM)
        try:
            s.bind((a, port))
        except OSError:
            s.close()
            continue
        harness.defer(s.close)
        return s
    return None


def drain_count(sock):
    n = 0
    while True:
        try:
            sock.recv(65536, socket.MSG_DONTWAIT)
            n += 1
        except (BlockingIOError, InterruptedError, ConnectionRefusedError):
            return n


@harness.timeout(60)
def test_07_udp_loop_guard():
    """Datagrams from source ports 7 (echo) and 19 (chargen), and from the
    daemon's own UDP ports (from another loopback address), IPv4 and
    IPv6, are dropped: no reply, and STATUS= counts each as dropped;
    meanwhile a normal source port gets every answer."""
    if os.geteuid() != 0:
        raise harness.Skip("binding ports 7 and 19 needs root")
    v6 = harness.ipv6_available()
    udp_bind = '[ "127.0.0.1", "::1" ]' if v6 else '"127.0.0.1"'
    d = Daemon(hconf(tcp="[ ]", udp="[ {P0}, {P1} ]", udp_bind=udp_bind,
                     udp_rate=0), nports=2)
    p0, p1 = d.ports
    bad = []        # (label, socket, destination host)
    for fam, host in [(socket.AF_INET, LOCAL4)] + \
            ([(socket.AF_INET6, LOCAL6)] if v6 else []):
        for port in (7, 19):
            s = bind_low(fam, port)
            if s is None:
                diag("cannot bind %s port %d: not checked" % (host, port))
                continue
            bad.append(("%s port %d" % (s.getsockname()[0], port), s,
                        host))
    for port in (p0, p1):
        try:
            s = udp_from("127.0.7.9", port)
        except OSError as e:
            diag("cannot bind 127.0.7.9:%d: %s" % (port, e))
            continue
        bad.append(("127.0.7.9 own port %d" % port, s, LOCAL4))
    assert len(bad) >= 3, "too few sources could be bound: %r" % [
        b[0] for b in bad]
    per = 20
    for label, s, host in bad:
        for i in range(per):
            s.sendto(b"loop? %d" % i, (host, p0))
    # the control, meanwhile: every datagram answered
    good = [udp_from("127.0.7.10")] + ([udp_from(LOCAL6)] if v6 else [])
    good_sent = good_ok = 0
    for s in good:
        host = s.getsockname()[0]
        for i in range(per):
            reply = harness.udp_exchange(p0, b"normal %d" % i,
                                         host=LOCAL6 if ":" in host
                                         else LOCAL4, sock=s, timeout=2)
            good_sent += 1
            good_ok += reply == b"NORMAL %d" % i
    time.sleep(0.5)
    answered = {label: drain_count(s) for label, s, _ in bad}
    st = status_after_reload(d)
    bad_sent = per * len(bad)
    figure("07 UDP loop guard",
           "%d sources (%s): %d sent, %d answered; STATUS dropped %d; "
           "normal source %d/%d answered" %
           (len(bad), ", ".join(b[0] for b in bad), bad_sent,
            sum(answered.values()), st["dropped"], good_ok, good_sent),
           "0 answered from guarded ports; dropped == %d; normal all"
           % bad_sent)
    assert not any(answered.values()), "answered: %r" % answered
    assert st["dropped"] == bad_sent, "STATUS dropped %d, %d sent from " \
        "guarded ports: %r" % (st["dropped"], bad_sent, st)
    assert good_ok == good_sent, "normal source: %d of %d answered" % (
        good_ok, good_sent)


def forged_udp(src, sport, dst, dport, payload):
    """Send one UDP datagram with a forged source (a raw socket: root),
    checksum included.  False if raw sockets are not allowed."""
    try:
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                          socket.IPPROTO_UDP)
    except OSError:
        return False
    harness.defer(r.close)
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!BBH", 0, socket.IPPROTO_UDP, len(udp))
    data = pseudo + udp + b"\0" * (len(udp) % 2)
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total >> 16) + (total & 0xffff)
    cks = ~total & 0xffff or 0xffff
    r.sendto(udp[:6] + struct.pack("!H", cks) + udp[8:], (dst, 0))
    return True


@harness.timeout(60)
def test_07b_udp_ping_pong_two_instances():
    """Two upcased on the same address, ports A and B; one datagram
    forged as coming from B is sent to A.  Neither loop guard sees a low
    or an own port, so A answers B, B answers A, and so on: only the rate
    limit (1000/s, burst 2000) ends it.  Bound: each answers at most
    burst + rate x t (+ 2 %), and the loop is over (no datagram more in
    the next second).  With rate_limit = 0 it would never end (see
    README.md, known issues)."""
    if os.geteuid() != 0:
        raise harness.Skip("forging a source address needs root")
    rate, burst = 1000, 2000
    a = Daemon(hconf(tcp="[ ]", udp_rate=rate, udp_burst=burst))
    b = Daemon(hconf(tcp="[ ]", udp_rate=rate, udp_burst=burst))
    t0 = time.monotonic()
    if not forged_udp(LOCAL4, b.port, LOCAL4, a.port, b"ping-pong"):
        raise harness.Skip("no raw socket")
    time.sleep(1.0)
    first = [status_after_reload(d) for d in (a, b)]
    t1 = time.monotonic() - t0
    time.sleep(1.0)
    second = [status_after_reload(d) for d in (a, b)]
    bound = int((burst + rate * t1) * 1.02 + 10)
    over = all(x["datagrams"] == y["datagrams"]
               for x, y in zip(first, second))
    figure("07b UDP ping-pong between 2 instances",
           "1 forged datagram: A got %d, answered %d; B got %d, answered "
           "%d; rate-limited %d/%d; loop %s" %
           (first[0]["datagrams"], first[0]["datagrams"] -
            first[0]["limited"], first[1]["datagrams"],
            first[1]["datagrams"] - first[1]["limited"],
            first[0]["limited"], first[1]["limited"],
            "over within %.1f s" % t1 if over else "STILL RUNNING"),
           "each <= %d; over within 1 s" % bound)
    for x in first:
        assert x["datagrams"] <= bound, "a daemon got %d datagrams (> %d)" \
            % (x["datagrams"], bound)
    assert first[0]["datagrams"] > 0, "the forged datagram never arrived"
    assert over, "still looping after %.1f s: %r then %r" % (
        t1, first, second)


@harness.timeout(60)
def test_08_udp_flood_one_source():
    """127.0.0.2 sends 20,000 datagrams as fast as it can (a separate
    process), and goes on for a second at least, so that the honest
    client below surely overlaps it, with rate_limit = 1000/s and
    rate_burst = 2000: it gets at
    most burst + rate x duration answers.  127.0.0.3 meanwhile sends 200
    a second, each waited for (retried after 0.3 s, 3 tries at most): it
    gets every answer, and a datagram of it is lost at most as often as
    the kernel dropped datagrams for a full receive buffer (a loss no
    rate limiter can help)."""
    rate, burst, n = 1000, 2000, 20000
    d = Daemon(hconf(tcp="[ ]", udp_rate=rate, udp_burst=burst))
    workers = 2
    flooder = hostile.start_flooder("127.0.0.2", LOCAL4, d.port, n,
                                    min_seconds=1.0)
    other = udp_from("127.0.0.3")
    res = {"sent": 0, "answered": 0, "first_try": 0, "retries": 0,
           "failed": [], "times": []}
    stop = threading.Event()

    def honest():
        i = 0
        t_next = time.monotonic()
        while not stop.is_set() and i < 2000:
            t = time.monotonic()
            msg = b"honest %d" % i
            expect = msg.upper()
            got = False
            for attempt in range(3):
                other.sendto(msg, (LOCAL4, d.port))
                res["sent"] += 1
                t_end = time.monotonic() + 0.3
                while not got:
                    left = t_end - time.monotonic()
                    if left <= 0 or not select.select([other], [], [],
                                                      left)[0]:
                        break
                    got = other.recv(100) == expect   # stale ones: skip
                if got:
                    break
                res["retries"] += 1
            if got:
                res["answered"] += 1
                res["first_try"] += attempt == 0
            else:
                res["failed"].append(i)
            res["times"].append(t)
            i += 1
            t_next += 0.005
            time.sleep(max(0, t_next - time.monotonic()))

    rcvbuf0 = hostile.snmp_counter("Udp", "RcvbufErrors")
    th = threading.Thread(target=honest, daemon=True)
    th.start()
    time.sleep(0.3)
    flooder.stdin.write("go\n")
    flooder.stdin.flush()
    fl = hostile.flooder_result(flooder)
    time.sleep(0.3)
    stop.set()
    th.join(10)
    rcvbuf_drops = hostile.snmp_counter("Udp", "RcvbufErrors") - rcvbuf0
    st = status_after_reload(d)
    t0, t1 = fl["t0"], fl["t0"] + fl["seconds"]
    during = sum(1 for t in res["times"] if t0 <= t <= t1)
    requests = len(res["times"])
    # the flooder counts replies up to 0.5 s after its last send
    allowed = burst + rate * (fl["seconds"] + 0.5)
    bound = int(allowed * 1.02 + 10)
    lost_first = requests - res["first_try"]
    figure("08 UDP flood from one source",
           "flood %d sent in %.2f s, %d answered (STATUS: %d rate-limited); "
           "other source %d/%d answered (%d during the flood), %d on the "
           "first try, kernel rcvbuf drops %d" %
           (fl["sent"], fl["seconds"], fl["answered"], st["limited"],
            res["answered"], requests, during, res["first_try"],
            rcvbuf_drops),
           "flood answered <= %d (burst + rate x t); >= %d; other all "
           "answered, first-try losses <= kernel drops" %
           (bound, burst // workers))
    assert fl["sent"] >= n, "flooder sent only %d" % fl["sent"]
    assert fl["answered"] <= bound, "flooder got %d answers (> %d)" % (
        fl["answered"], bound)
    assert fl["answered"] >= burst // workers * 0.9, \
        "flooder got only %d answers: not even a worker's burst" % (
            fl["answered"])
    assert st["limited"] > 0, "STATUS counts no rate-limited datagram"
    assert not res["failed"], "other source: no answer to %d of %d " \
        "requests (3 tries each): %r" % (len(res["failed"]), requests,
                                         res["failed"][:10])
    assert requests >= 100 and during >= 5, \
        "other source: %d requests, %d during the flood" % (requests, during)
    assert lost_first <= rcvbuf_drops, "other source: %d requests needed " \
        "a retry, but the kernel dropped only %d datagrams" % (
            lost_first, rcvbuf_drops)


if __name__ == "__main__":
    hostile.raise_nofile()
    harness.run_tests(globals())
