#!/usr/bin/env python3
"""Hostile crowds of TCP clients: slowloris, connection floods past
max_connections and max_connections_per_source, connect-and-reset,
half-closed and silent clients.

Distinct sources are distinct loopback addresses (127.0.0.0/8), bound on
the client side.  Each case prints "# FIGURE case | figure | bound"
(collected by run.sh) and asserts its bound.
"""

import socket
import time

import hostile
import harness
from harness import Daemon, wait_for
from hostile import (Streamer, closed_by_server, connect_from, figure,
                     hconf, percentile, server_count, timed_echo)

HONEST = "127.0.0.9"


def trickle(socks, sent, pattern, slot, nslots):
    """Send the next byte of pattern on every nslots-th socket from slot
    on; returns how many sends failed (the server closed them)."""
    failed = 0
    for i in range(slot, len(socks), nslots):
        s = socks[i]
        if s is None:
            continue
        b = pattern[sent[i] % len(pattern):sent[i] % len(pattern) + 1]
        try:
            if s.send(b, socket.MSG_DONTWAIT) == 1:
                sent[i] += 1
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            failed += 1
    return failed


def expected_trickle(pattern, n):
    reps = n // len(pattern) + 1
    return harness.upper((pattern * reps)[:n])


# --- 1. slowloris ------------------------------------------------------------

SLOW_N = 2000
SLOW_SRCS = ["127.0.1.%d" % i for i in range(1, 5)]
PATTERN = b"slowloris-partial-line-never-ends "


@harness.timeout(120)
def test_01_slowloris_2000():
    """2,000 connections (from 4 source addresses) each send one byte
    every 3 s and never end their line; meanwhile an honest client from
    another address opens a connection and echoes a line every 50 ms, and
    a held honest connection echoes as often.  max_connections = 4096 (the
    crowd is below the crowded mark), no per-source cap: every slowloris
    is held and answered byte by byte, and the honest client is served
    promptly."""
    hostile.need_fds(SLOW_N + 200)
    d = Daemon(hconf(limits={"max_connections": 4096, "idle_timeout": 300}))
    scale = hostile.time_scale(d)
    fd0 = d.fd_count()
    crowd = []
    harness.defer(lambda: [s.close() for s in crowd])
    t0 = time.monotonic()
    for i in range(SLOW_N):
        crowd.append(connect_from(SLOW_SRCS[i % len(SLOW_SRCS)], d.port,
                                  blocking=False, track=False))
        assert time.monotonic() - t0 < 30, "opening the crowd took > 30 s"
    t_open = time.monotonic() - t0
    wait_for(lambda: d.fd_count() >= fd0 + SLOW_N, 5, 0.1)
    fds_open = d.fd_count() - fd0
    held = connect_from(HONEST, d.port)
    sent = [0] * SLOW_N
    lat_new, lat_held = [], []
    failed = 0
    period, tick, phase = 3.0, 0.05, 9.0
    nslots = int(period / tick)
    t_start = time.monotonic()
    k = 0
    while time.monotonic() - t_start < phase and k < 1000:
        failed += trickle(crowd, sent, PATTERN, k % nslots, nslots)
        lat_new.append(timed_echo(d.port, HONEST, b"honest %d\n" % k))
        t = time.monotonic()
        harness.tcp_echo(held, b"held honest %d\n" % k)
        lat_held.append(time.monotonic() - t)
        k += 1
        time.sleep(max(0, t_start + k * tick - time.monotonic()))
    fds_crowd = d.fd_count() - fd0
    # every slowloris still open, and answered byte for byte
    got = [b""] * SLOW_N
    state = ["open"] * SLOW_N

    def all_answered():
        for i, s in enumerate(crowd):
            if state[i] != "open" or len(got[i]) == sent[i]:
                continue
            data, state[i] = hostile.drain_nb(s)
            got[i] += data
        return all(state[i] != "open" or len(got[i]) == sent[i]
                   for i in range(SLOW_N))
    wait_for(all_answered, 5, 0.1)
    ok = sum(1 for i in range(SLOW_N) if state[i] == "open" and
             got[i] == expected_trickle(PATTERN, sent[i]))
    closed = sum(1 for st in state if st != "open")
    bound = 0.5 * scale
    figure("01 slowloris 2000",
           "%d/%d slowloris held and answered (%d bytes sent, daemon holds "
           "%d then %d fds); honest fresh conn p50 %.1f ms max %.1f ms, "
           "held conn max %.1f ms over %d rounds; crowd opened in %.1f s" %
           (ok, SLOW_N, sum(sent), fds_open, fds_crowd,
            percentile(lat_new, 50) * 1000, max(lat_new) * 1000,
            max(lat_held) * 1000, k, t_open),
           "all %d held; honest max < %.0f ms" % (SLOW_N, bound * 1000))
    assert failed == 0 and closed == 0, \
        "%d slowloris closed (%d sends failed)" % (closed, failed)
    assert ok == SLOW_N, "only %d of %d slowloris answered correctly" % (
        ok, SLOW_N)
    assert max(lat_new) < bound and max(lat_held) < bound, \
        "honest client waited %.0f ms (fresh) / %.0f ms (held)" % (
            max(lat_new) * 1000, max(lat_held) * 1000)
    assert k >= 60, "only %d honest rounds in %.0f s" % (k, phase)


@harness.timeout(90)
def test_01b_slowloris_at_the_cap():
    """The attacker holds every slot (max_connections = 1000; it tries
    1100) and keeps reconnecting what is closed, each connection sending a
    byte every 3 s.  The crowded rule (crowded_idle_timeout = 1) closes
    the connections silent longest, so an honest client from another
    address gets in within seconds and, as it talks, is never evicted."""
    cap, tries = 1000, 1100
    hostile.need_fds(tries + 200)
    d = Daemon(hconf(limits={"max_connections": cap,
                             "crowded_idle_timeout": 1,
                             "idle_timeout": 300}))
    scale = hostile.time_scale(d)
    src = "127.0.1.9"
    crowd = []
    harness.defer(lambda: [s.close() for s in crowd if s is not None])
    t0 = time.monotonic()
    for i in range(tries):
        crowd.append(connect_from(src, d.port, blocking=False, track=False))
        assert time.monotonic() - t0 < 30, "opening the crowd took > 30 s"
    time.sleep(0.3)
    for s in closed_by_server(crowd):       # the ones beyond the cap
        i = crowd.index(s)
        s.close()
        crowd[i] = None
    refused0 = crowd.count(None)
    t_full = time.monotonic()
    sent = [0] * tries
    period, tick, phase = 3.0, 0.05, 8.0
    nslots = int(period / tick)
    reconnects = evicted = 0
    honest = None
    t_in = None
    refused_honest = 0
    held_ok = 0
    held_lost = None
    k = 0
    while time.monotonic() - t_full < phase and k < 1000:
        # the attacker: reopen what was closed (at most 100 per tick),
        # then trickle
        gone = closed_by_server([s for s in crowd if s is not None])
        for s in gone:
            i = crowd.index(s)
            s.close()
            crowd[i] = None
            evicted += 1
        for i in range(tries):
            if crowd[i] is None and reconnects < 100 * (k + 1):
                try:
                    crowd[i] = connect_from(src, d.port, blocking=False,
                                            track=False)
                    sent[i] = 0
                    reconnects += 1
                except OSError:
                    pass
        trickle(crowd, sent, PATTERN, k % nslots, nslots)
        # the honest client: get in, then talk every tick
        if honest is None:
            h = None
            try:
                h = connect_from(HONEST, d.port, timeout=1, track=False)
                harness.tcp_echo(h, b"let me in\n", timeout=0.5)
                honest = h
                harness.defer(h.close)
                t_in = time.monotonic() - t_full
            except (AssertionError, OSError):
                refused_honest += 1
                if h is not None:
                    h.close()
        elif held_lost is None:
            try:
                harness.tcp_echo(honest, b"honest talks %d\n" % k,
                                 timeout=2)
                held_ok += 1
            except (AssertionError, OSError) as e:
                held_lost = str(e)
        k += 1
        time.sleep(max(0, t_full + k * tick - time.monotonic()))
    bound = (1 + 3) * scale
    figure("01b slowloris at the cap (crowded rule)",
           "cap %d full (%d of %d refused at once); %d attackers evicted, "
           "%d reconnects; honest in after %s (%d refusals), then %d "
           "echoes on it%s" %
           (cap, refused0, tries, evicted, reconnects,
            "%.2f s" % t_in if t_in is not None else "NEVER",
            refused_honest, held_ok,
            "" if held_lost is None else ", then LOST"),
           "honest in < %.0f s; never evicted" % bound)
    assert refused0 >= tries - cap - 5, \
        "only %d of %d connections refused beyond the cap" % (
            refused0, tries)
    assert t_in is not None, "the honest client never got in"
    assert t_in < bound, "the honest client got in after %.1f s" % t_in
    assert held_lost is None, "the honest client lost its connection " \
        "after %d echoes: %s" % (held_ok, held_lost)
    assert evicted > 0, "no attacker connection was evicted"
    assert held_ok >= 20, "the honest client talked only %d times" % held_ok


# --- 5. flood past max_connections -------------------------------------------

def settle_closed(socks, expect, timeout=3.0):
    """Wait until expect of socks are closed by the server (and 0.3 s more
    for any extra); returns (closed list, seconds until expect were)."""
    t0 = time.monotonic()
    wait_for(lambda: len(closed_by_server(socks)) >= expect, timeout, 0.02)
    t = time.monotonic() - t0
    time.sleep(0.3)
    return closed_by_server(socks), t


def serve_new(src, port, deadline_s=5.0):
    """A new connection from src that is served, retrying (every 50 ms)
    while the server closes it; returns (socket, refusals)."""
    refusals = 0
    t_end = time.monotonic() + deadline_s
    while True:
        s = connect_from(src, port, timeout=2)
        try:
            harness.tcp_echo(s, b"new one\n", timeout=1)
            return s, refusals
        except AssertionError:
            s.close()
            refusals += 1
            if time.monotonic() > t_end:
                raise AssertionError("no new connection from %s served "
                                     "within %.0f s (%d refused)" %
                                     (src, deadline_s, refusals))
            time.sleep(0.05)


def echo_all(socks, what):
    for i, s in enumerate(socks):
        s.setblocking(True)
        s.settimeout(5)
        try:
            harness.tcp_echo(s, b"%s %d\n" % (what.encode(), i), timeout=3)
        except (AssertionError, OSError) as e:
            raise AssertionError("%s %d not served: %s" % (what, i, e))


@harness.timeout(60)
def test_05_flood_past_max_connections():
    """max_connections = 100, 300 connections opened at once: 100 are
    served, the other 200 are closed at once without a byte; the held ones
    keep being served; once 50 close, 50 new ones are served, and the
    next one is refused again."""
    cap, n = 100, 300
    d = Daemon(hconf(limits={"max_connections": cap}))
    src = "127.0.2.1"
    socks = hostile.open_many(src, d.port, n)
    refused, t_ref = settle_closed(socks, n - cap)
    accepted = [s for s in socks if s not in refused]
    echo_all(accepted, "held")
    for s in accepted[:50]:
        s.close()
    new = []
    retries = 0
    for _ in range(50):
        s, r = serve_new(src, d.port)
        new.append(s)
        retries += r
    extra = connect_from(src, d.port)
    extra_refused = harness.closed_unanswered(extra, 2)
    echo_all(accepted[50:] + new, "still held")
    figure("05 flood past max_connections",
           "%d accepted, %d refused of %d (all closed %.0f ms after the "
           "last connect); "
           "after 50 closed: 50 new served (%d retries), next one %s" %
           (len(accepted), len(refused), n, t_ref * 1000, retries,
            "refused" if extra_refused else "SERVED"),
           "accepted == %d; refused == %d; next refused" % (cap, n - cap))
    assert len(accepted) == cap, "%d accepted" % len(accepted)
    assert len(refused) == n - cap, "%d refused" % len(refused)
    assert extra_refused, "a connection beyond the cap was served"


# --- 6. per-source limit -----------------------------------------------------

@harness.timeout(60)
def test_06_per_source_limit():
    """max_connections_per_source = 20: 50 connections from 127.0.3.1
    get 20 served and 30 closed at once; 20 from 127.0.3.2 meanwhile are
    all served; when 5 of the first source close, it gets 5 again and no
    more."""
    per = 20
    d = Daemon(hconf(limits={"max_connections": 4096,
                             "max_connections_per_source": per}))
    a_src, b_src = "127.0.3.1", "127.0.3.2"
    a = hostile.open_many(a_src, d.port, 50)
    a_refused, t_ref = settle_closed(a, 50 - per)
    a_held = [s for s in a if s not in a_refused]
    b = hostile.open_many(b_src, d.port, per)
    b_refused, _ = settle_closed(b, 0)
    echo_all(a_held, "a")
    echo_all([s for s in b if s not in b_refused], "b")
    for s in a_held[:5]:
        s.close()
    again = []
    retries = 0
    for _ in range(5):
        s, r = serve_new(a_src, d.port)
        again.append(s)
        retries += r
    extra = connect_from(a_src, d.port)
    extra_refused = harness.closed_unanswered(extra, 2)
    b_extra = connect_from(b_src, d.port)
    b_extra_refused = harness.closed_unanswered(b_extra, 1)
    figure("06 per-source limit",
           "source A: %d served, %d refused of 50; source B: %d/%d served; "
           "A after 5 closed: 5 new (%d retries), next %s; B's %dst %s" %
           (len(a_held), len(a_refused), per - len(b_refused), per, retries,
            "refused" if extra_refused else "SERVED", per + 1,
            "refused" if b_extra_refused else "SERVED"),
           "A served == %d; B all %d served" % (per, per))
    assert len(a_held) == per, "source A: %d served" % len(a_held)
    assert not b_refused, "source B: %d refused" % len(b_refused)
    assert extra_refused, "source A got a %dst connection" % (per + 1)
    assert b_extra_refused, "source B got a %dst connection" % (per + 1)


# --- 9. connect-and-reset ----------------------------------------------------

@harness.timeout(60)
def test_09_connect_and_reset_1000():
    """1,000 clients close with a reset (SO_LINGER {1, 0}), 100 at a time:
    a quarter right after connecting, a quarter after sending a line, a
    quarter after sending 256 KiB they never read (the daemon is writing
    to them), a quarter after reading their answer.  The daemon stays up,
    serving, holds no more descriptors than before, logs no error."""
    n, batch = 1000, 100
    d = Daemon(hconf(limits={"max_connections": 4096}))
    for i in range(4):
        s = connect_from(HONEST, d.port)
        harness.tcp_echo(s, b"warm %d\n" % i)
        s.close()
    assert wait_for(lambda: server_count(d.port, "ESTABLISHED") == 0, 3)
    fd0 = d.fd_count()
    big = harness.fill_random_lower(256 << 10, seed=9)
    kinds = [0, 0, 0, 0]
    peak = fd0
    t0 = time.monotonic()
    for r in range(n // batch):
        socks = []
        for i in range(batch):
            kind = (r * batch + i) % 4
            s = connect_from("127.0.4.1", d.port, track=False)
            hostile.set_rst_on_close(s)
            try:
                if kind == 1:
                    s.sendall(b"a line, then a reset\n")
                elif kind == 2:
                    s.setblocking(False)
                    try:
                        s.send(big)
                    except BlockingIOError:
                        pass
                elif kind == 3:
                    harness.tcp_echo(s, b"read it, then reset\n")
            except BaseException:
                s.close()
                raise
            kinds[kind] += 1
            socks.append(s)
            if kind == 0:
                s.close()
        peak = max(peak, d.fd_count())
        for s in socks:
            s.close()
        assert d.alive(), "daemon died after %d resets" % (r * batch)
    t_resets = time.monotonic() - t0
    settled = wait_for(lambda: d.fd_count() <= fd0, 5, 0.05)
    fd1 = d.fd_count()
    t_settle = time.monotonic() - t0 - t_resets
    lat = timed_echo(d.port, HONEST, b"still serving\n")
    bad = hostile.bad_log_lines(d)
    states = hostile.server_states(d.port)
    figure("09 connect-and-reset 1000",
           "daemon fds before %d, peak %d, after %d (settled %.2f s after "
           "the last reset); %d resets (%d/%d/%d/%d by kind) in %.1f s; "
           "then echo in %.1f ms" %
           (fd0, peak, fd1, t_settle, sum(kinds), kinds[0], kinds[1],
            kinds[2], kinds[3], t_resets, lat * 1000),
           "fds after <= before within 5 s; alive; no error logged")
    assert d.alive(), "the daemon died"
    assert settled, "daemon holds %d descriptors, %d before: %r" % (
        fd1, fd0, sorted(d.fd_targets()))
    assert not bad, "daemon logged: %r" % bad[:5]
    assert "CLOSE_WAIT" not in states, states


# --- 10. half-closed and silent clients --------------------------------------

@harness.timeout(60)
def test_10_half_open_and_silent():
    """(a) 100 clients send 64 KiB, shut down their write side (FIN) and
    read: each gets its whole answer, then a clean EOF; no CLOSE_WAIT is
    left on the daemon's side.  (b) 50 clients send a line and then
    nothing (no FIN, never read), and 5 send until they stall and then go
    silent: idle_timeout = 2 closes every one of them (not before 2 s, by
    2 + 2.5 s), and each gets its answer (a stalled one: what fitted)
    before the EOF."""
    idle = 2
    d = Daemon(hconf(limits={"max_connections": 4096,
                             "idle_timeout": idle}))
    scale = hostile.time_scale(d)
    port = d.port
    fd0 = d.fd_count()
    # (a) every byte answered, then a clean EOF, no CLOSE_WAIT
    data = harness.fill_random_lower(64 << 10, seed=10)
    halves = [Streamer(connect_from("127.0.6.1", port, blocking=False),
                       data, "half-close %d" % i) for i in range(100)]
    t0 = time.monotonic()
    hostile.pump(halves, lambda: all(st.done for st in halves), 20,
                 shutdown=True)
    t_a = max((st.eof_at or time.monotonic()) for st in halves) - t0
    errors = [st.error for st in halves if st.error]
    answered = sum(1 for st in halves if st.eof and not st.error and
                   st.got == len(data))
    no_cw = wait_for(lambda: server_count(port, "CLOSE_WAIT") == 0, 2)
    cw_a = server_count(port, "CLOSE_WAIT")
    # (b) first the stalled ones (stalling takes a while), then the
    # silent ones, whose silence starts at their last send (a stalled
    # one's starts earlier, when the daemon stopped reading from it)
    stalled = [connect_from("127.0.6.3", port, blocking=False)
               for _ in range(5)]
    block = harness.fill_random_lower(1 << 20, seed=11)
    stalled_sent = [0] * len(stalled)
    last = time.monotonic()
    t_end = last + 10
    while time.monotonic() - last < 0.5 and time.monotonic() < t_end:
        for j, s in enumerate(stalled):
            off = stalled_sent[j] % len(block)
            try:
                stalled_sent[j] += s.send(block[off:off + 65536])
                last = time.monotonic()
            except BlockingIOError:
                pass
        time.sleep(0.01)
    silent = []
    for i in range(50):
        s = connect_from("127.0.6.2", port)
        s.sendall(b"then silence %d\n" % i)
        silent.append(s)
    t_silent = time.monotonic()
    n_b = len(silent) + len(stalled)
    # no silent one closed before idle_timeout (the clock counts whole
    # seconds: closed after 2 to 3 s of silence)
    time.sleep(max(0, t_silent + idle - 0.3 - time.monotonic()))
    open_early = server_count(port, "ESTABLISHED", "127.0.6.2")
    closed = wait_for(lambda: server_count(port, "ESTABLISHED") == 0,
                      idle + 3 * scale, 0.05)
    t_b = time.monotonic() - t_silent
    n_closed = n_b - server_count(port, "ESTABLISHED")
    replies_ok = 0
    for i, s in enumerate(silent):
        got = harness.recv_until_eof(s, timeout=2, allow_reset=True)
        replies_ok += got == b"THEN SILENCE %d\n" % i
    stalled_ok = 0
    for j, s in enumerate(stalled):
        s.setblocking(True)
        got = harness.recv_until_eof(s, timeout=10, allow_reset=True)
        exp = bytearray()
        while len(exp) < len(got):
            exp += harness.upper(block)
        stalled_ok += (len(got) > 0 and got == bytes(exp[:len(got)]))
    for s in silent + stalled:
        s.close()
    fds_back = wait_for(lambda: d.fd_count() <= fd0, 3, 0.05)
    cw_end = server_count(port, "CLOSE_WAIT")
    figure("10 half-open and silent",
           "(a) %d/100 half-closed clients answered in full, then EOF, in "
           "%.2f s, CLOSE_WAIT %d; (b) %d/%d silent closed by idle_timeout "
           "%d s by %.2f s (none before: %d/50 open at %.1f s), replies "
           "%d/50, "
           "stalled %d/5 intact; CLOSE_WAIT at end %d" %
           (answered, t_a, cw_a, n_closed,
            n_b, idle, t_b, open_early, idle - 0.3, replies_ok, stalled_ok,
            cw_end),
           "(a) 100/100 < 10 s; (b) closed in [%d, %.1f] s; no CLOSE_WAIT"
           % (idle, idle + 2.5 * scale))
    assert not errors, "half-closed clients: %r" % errors[:3]
    assert answered == 100, "%d of 100 half-closed clients done" % answered
    assert t_a < 10 * scale, "half-closed clients took %.1f s" % t_a
    assert no_cw, "CLOSE_WAIT on the daemon's side: %r" % (
        hostile.server_states(port),)
    assert open_early == len(silent), "only %d of %d silent clients " \
        "still open %.1f s after they went silent" % (
            open_early, len(silent), idle - 0.3)
    assert closed, "%d silent clients still open after %.1f s" % (
        n_b - n_closed, t_b)
    assert t_b <= idle + 2.5 * scale, "closed only after %.1f s" % t_b
    assert replies_ok == 50, "%d of 50 silent clients got their reply" % (
        replies_ok)
    assert stalled_ok == 5, "%d of 5 stalled clients got a correct " \
        "backlog" % stalled_ok
    assert cw_end == 0, "CLOSE_WAIT at the end: %r" % (
        hostile.server_states(port),)
    assert fds_back, "daemon holds %d descriptors, %d before" % (
        d.fd_count(), fd0)


if __name__ == "__main__":
    hostile.raise_nofile()
    harness.run_tests(globals())
