#!/usr/bin/env python3
"""Signals under load: 100 SIGHUPs while clients stream, and SIGTERM
while replies are in flight.

Each case prints "# FIGURE case | figure | bound" (collected by run.sh)
and asserts its bound.
"""

import signal
import socket
import threading
import time

import hostile
import harness
from harness import Daemon, diag
from hostile import Streamer, connect_from, figure, hconf, pump

SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)


def state_messages(d):
    """The READY=1 / RELOADING=1 / STOPPING=1 lines, in order."""
    out = []
    for _, text in d.messages:
        for line in text.split("\n"):
            if line in ("READY=1", "RELOADING=1", "STOPPING=1"):
                out.append(line)
    return out


@harness.timeout(90)
def test_11_sighup_storm_under_load():
    """20 clients stream (send and read at once, every byte checked)
    while 100 SIGHUPs arrive 20 ms apart, each with a rewritten file that
    changes the worker count (1, 2, 3: workers start and retire, handing
    their connections over), idle_timeout and max_pending_output.  Then
    the clients half-close and read to EOF: no connection dropped, no
    byte lost or wrong, nothing logged at warning or worse, every reload
    completed and the daemon ends READY with the last file's workers."""
    nclients, nsig, interval = 20, 100, 0.02
    limits = {"max_connections": 4096}

    def config(i):
        lim = dict(limits, idle_timeout=[0, 300, 600][i % 3],
                   max_pending_output=[1 << 20, 262144, 4 << 20][i % 3])
        return hconf(workers=[1, 2, 3][i % 3], limits=lim)

    d = Daemon(config(1))
    data = harness.fill_random_lower(128 << 20, seed=11)
    clients = [Streamer(connect_from("127.0.8.1", d.port, blocking=False),
                        data, "client %d" % i) for i in range(nclients)]
    sig = {"sent": 0, "done": False, "t": None}

    def storm():
        t0 = time.monotonic()
        for i in range(nsig):
            d.write_config(config(i))
            d.signal(signal.SIGHUP)
            sig["sent"] += 1
            time.sleep(max(0, t0 + (i + 1) * interval - time.monotonic()))
        sig["t"] = time.monotonic() - t0
        sig["done"] = True

    th = threading.Thread(target=storm, daemon=True)
    state = {"finished": False, "t_done": None}

    def tick():
        d._read_notify(0)            # keep the notify socket drained
        if sig["done"] and state["t_done"] is None:
            state["t_done"] = time.monotonic()
            state["got_end"] = [c.got for c in clients]
        if state["t_done"] is not None and not state["finished"] and \
                time.monotonic() - state["t_done"] > 0.5:
            for c in clients:
                c.finish()
            state["finished"] = True

    # stream a little before the storm, so that it hits a busy daemon
    pump(clients, lambda: False, 0.3, tick=tick)
    sent0 = sum(c.sent for c in clients)
    got0 = [c.got for c in clients]
    th.start()
    pump(clients, lambda: all(c.done for c in clients), 60, tick=tick)
    th.join(5)
    # the least any client got answered while the SIGHUPs came
    least = min(e - b for b, e in zip(got0, state.get("got_end", got0)))
    # every reload ends READY: RELOADING=1 comes once per reload started;
    # READY=1 once the workers took the latest state (a reload that
    # starts before the previous one settled shares its READY=1)
    harness.wait_for(lambda: d._read_notify(0.05) >= 0 and
                     state_messages(d)[-1:] == ["READY=1"], 10, 0.05)
    d._read_notify(0.2)
    states = state_messages(d)
    reloads = states.count("RELOADING=1")
    readies = states.count("READY=1") - 1
    err = d.stderr()
    applied = err.count("upcased: notice: reloaded ")
    again = err.count("SIGHUP during a reload")
    last = [m for _, m in d.messages if harness.parse_status(m)]
    st = harness.parse_status(last[-1]) if last else {}
    bad = hostile.bad_log_lines(d)
    errors = [c.error for c in clients if c.error]
    complete = sum(1 for c in clients if c.eof and not c.error and
                   c.got == c.sent)
    total = sum(c.sent for c in clients)
    want_workers = [1, 2, 3][(nsig - 1) % 3]
    figure("11 100 SIGHUPs under load",
           "%d SIGHUPs in %.2f s: %d reloads started (RELOADING=1), %d "
           "applied, %d folded into a running one, %d READY=1; %d/%d "
           "clients complete, %.1f MiB each way checked (%.1f MiB sent "
           "during the storm, each client answered >= %.1f MiB in it); %d "
           "warnings/errors logged; ends with %s workers" %
           (sig["sent"], sig["t"] or 0, reloads, applied, again, readies,
            complete, nclients, total / 1048576.0,
            (total - sent0) / 1048576.0, least / 1048576.0, len(bad),
            st.get("workers")),
           "0 dropped, 0 bytes lost/wrong; every client served during "
           "the storm; ends READY with the last file; no warning/error")
    assert sig["sent"] == nsig, "only %d SIGHUPs sent" % sig["sent"]
    assert not errors, "clients: %r" % errors[:3]
    assert complete == nclients, "%d of %d clients complete" % (
        complete, nclients)
    assert least >= 1 << 20, "a client got only %d bytes answered during " \
        "the storm" % least
    assert states[-1:] == ["READY=1"], "last state messages: %r" % (
        states[-6:],)
    assert reloads >= 1 and 1 <= readies <= reloads, \
        "%d RELOADING=1, %d READY=1 after them" % (reloads, readies)
    assert applied + again >= 1 and applied <= reloads, \
        "%d reloads started, %d applied, %d folded" % (reloads, applied,
                                                       again)
    assert st.get("workers") == want_workers, \
        "last STATUS: %r; the last file says %d workers" % (st,
                                                            want_workers)
    assert not bad, "daemon logged: %r" % bad[:5]
    assert d.alive(), "the daemon died"


@harness.timeout(60)
def test_12_sigterm_with_replies_in_flight():
    """20 clients each send 6 MiB and then their FIN, without reading: the
    data sits in socket buffers (the clients' made big enough for all of
    it), unread by the daemon or queued for output: it is in flight.
    SIGTERM arrives; then the clients read.  Every byte sent before a
    client's FIN is answered before the daemon closes (a clean EOF),
    within drain_timeout (10 s), and the daemon exits 0."""
    nclients, size, drain = 20, 6 << 20, 10
    d = Daemon(hconf(limits={"drain_timeout": drain,
                             "max_connections": 4096}))
    scale = hostile.time_scale(d)
    socks = [connect_from("127.0.9.1", d.port, blocking=False)
             for i in range(nclients)]
    try:        # room for all of it whatever tcp_wmem says (root only)
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 2 * size)
        forced = True
    except OSError:
        forced = False
        size = 2 << 20      # fits the default buffers
        diag("no SO_SNDBUFFORCE: 2 MiB per client")
    data = harness.fill_random_lower(size, seed=12)
    clients = [Streamer(s, data, "client %d" % i)
               for i, s in enumerate(socks)]
    # send all and FIN, reading nothing (all fits in the buffers)
    pump(clients, lambda: all(c.shut for c in clients), 10, read=False,
         shutdown=True)
    shut = sum(1 for c in clients if c.shut)
    time.sleep(0.2)
    tx, rx = hostile.server_queues(d.port)
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    pump(clients, lambda: all(c.done for c in clients), drain + 5,
         write=False)
    t_last = max((c.eof_at or time.monotonic()) for c in clients) - t0
    rc = d.wait_exit(drain + 5)
    t_exit = time.monotonic() - t0
    errors = [c.error for c in clients if c.error]
    answered = sum(c.got for c in clients)
    sent = sum(c.sent for c in clients)
    figure("12 SIGTERM with replies in flight",
           "%d/%d bytes answered (%d clients, all FIN before SIGTERM: %d; "
           "at SIGTERM %.1f MiB unread by the daemon, %.1f MiB in its send "
           "queues); last EOF %.2f s, exit %s at %.2f s after SIGTERM, "
           "drain_timeout %d s" %
           (answered, sent, nclients, shut, rx / 1048576.0, tx / 1048576.0,
            t_last, rc, t_exit, drain),
           "answered == sent; exit 0 within drain_timeout")
    assert shut == nclients, "only %d clients could send all and FIN " \
        "before SIGTERM" % shut
    assert rx > 0 or not forced, \
        "nothing unread by the daemon at SIGTERM: a weak test"
    assert not errors, "clients: %r" % errors[:3]
    assert answered == sent == nclients * size, \
        "%d of %d bytes answered" % (answered, sent)
    assert rc == 0, "exit status %r" % rc
    assert t_exit <= drain * scale, "exit %.2f s after SIGTERM" % t_exit


@harness.timeout(60)
def test_12b_sigterm_mid_stream():
    """20 clients stream 32 MiB each (sending and reading at once) and
    SIGTERM arrives 0.3 s in, while they still send.  A client still
    talking is answered until its FIN (src/tcp.h: only one that sent
    nothing for a whole drain tick of 200 ms is let go): every byte sent
    before each client's FIN comes back, right and in order, then a clean
    EOF; the daemon exits 0 within drain_timeout.  The figure gives the
    longest stall in any client's sending after SIGTERM (backpressure:
    20 clients share 2 cores), which must not get it cut."""
    nclients, size, drain = 20, 32 << 20, 10
    d = Daemon(hconf(limits={"drain_timeout": drain,
                             "max_connections": 4096}))
    scale = hostile.time_scale(d)
    data = harness.fill_random_lower(size, seed=13)
    clients = [Streamer(connect_from("127.0.9.2", d.port, blocking=False),
                        data, "client %d" % i) for i in range(nclients)]
    pump(clients, lambda: False, 0.3, shutdown=True)
    sent0 = sum(c.sent for c in clients)
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    for c in clients:
        c.gap_from = t0
    pump(clients, lambda: all(c.done for c in clients), drain + 5,
         shutdown=True)
    t_last = max((c.eof_at or time.monotonic()) for c in clients) - t0
    rc = d.wait_exit(drain + 5)
    t_exit = time.monotonic() - t0
    cut = [c for c in clients if c.cut_short]
    errors = [c.error for c in clients if c.error]
    answered = sum(c.got for c in clients)
    sent = sum(c.sent for c in clients)
    gap = max(c.max_gap for c in clients)
    figure("12b SIGTERM mid-stream",
           "%d/%d bytes answered (%.1f MiB streamed before SIGTERM, %.1f "
           "MiB after); %d/%d clients cut short; longest stall in sending "
           "%.0f ms; last EOF %.2f s, exit %s at %.2f s after SIGTERM" %
           (answered, sent, sent0 / 1048576.0, (sent - sent0) / 1048576.0,
            len(cut), nclients, gap * 1000, t_last, rc, t_exit),
           "answered == sent; clean EOF; exit 0 within drain_timeout "
           "%d s" % drain)
    for c in cut:
        diag("%s: cut short; longest stall in its sending %.0f ms" % (
            c.name, c.max_gap * 1000))
    assert not errors, "clients: %r" % errors[:3]
    assert answered == sent == nclients * size, \
        "%d of %d bytes answered" % (answered, sent)
    assert rc == 0, "exit status %r" % rc
    assert t_exit <= drain * scale, "exit %.2f s after SIGTERM" % t_exit


if __name__ == "__main__":
    hostile.raise_nofile()
    harness.run_tests(globals())
