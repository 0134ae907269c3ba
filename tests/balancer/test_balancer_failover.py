#!/usr/bin/env python3
"""Backends that die or restart under load, behind the real HAProxy
(doc/examples/haproxy.cfg: checks every 200 ms, fall 2, rise 2,
retries 3, option redispatch).

Run by tests/balancer/run.sh inside the client namespace.  Each case
prints "# FIGURE scenario | figure | bound" and asserts its bound.
"""

import signal
import time

import balancer
import harness
from balancer import FALL, INTER, RISE, figure

PORT = balancer.HA_PLAIN


def start_backends(limits=None):
    return [balancer.backend(i, balancer.backend_conf(i, limits=limits))
            for i in range(3)]


def wait_state(ha, i, pred, timeout):
    """Poll HAProxy's view of server b<i+1> every 10 ms until pred(status);
    returns the monotonic time it held, or None."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if pred(ha.states(PORT)[i]):
            return time.monotonic()
        time.sleep(0.01)
    return None


def describe(rows, t0):
    return ["%+.3f..%+.3f s: %s" % (a - t0, b - t0, e) for a, b, e in rows]


@harness.timeout(60)
def test_6_kill9_under_load():
    """kill -9 of backend 2 under a steady load of short sessions:
    HAProxy marks it DOWN within inter x fall; the sessions that fail all
    fail within that window; after a restart it is UP within inter x rise
    and serves again."""
    balancer.in_suite()
    ha = balancer.balancer("haproxy")
    ds = start_backends()
    balancer.wait_backends_up(ha, PORT)
    load = balancer.Load(PORT, short=3, long=0, max_seconds=30).start()
    time.sleep(1.0)
    t_kill = time.monotonic()
    ds[1].kill()                              # SIGKILL, reaped
    t_down = wait_state(ha, 1, lambda s: s.startswith("DOWN"), 5)
    time.sleep(0.5)
    t_restart = time.monotonic()
    d2 = balancer.backend(1, balancer.backend_conf(1))
    t_up = wait_state(ha, 1, lambda s: s == "UP" or s.startswith("UP"), 5)
    stot0 = ha.sessions(PORT)[1]
    time.sleep(1.0)
    stot1 = ha.sessions(PORT)[1]
    assert load.stop(), "load threads did not end"
    fails = load.short_failures()
    window = INTER * FALL
    slack = 0.1      # the check's own run, and this test polling the stats
    down_s = None if t_down is None else t_down - t_kill
    up_s = None if t_up is None else t_up - t_restart
    outside = [r for r in fails
               if r[1] < t_kill or (t_down is not None and
                                    r[1] > t_down + slack)]
    figure("6 kill -9 under load",
           "DOWN after %s; %d of %d sessions failed, %d outside "
           "[kill, DOWN]; UP %s after restart, then %d sessions" %
           ("never" if down_s is None else "%.0f ms" % (down_s * 1000),
            len(fails), len(load.shorts), len(outside),
            "never" if up_s is None else "%.0f ms" % (up_s * 1000),
            stot1 - stot0),
           "DOWN <= inter x fall (%d ms); failures only in that window; "
           "serves again" % (window * 1000))
    for line in describe(fails, t_kill)[:20]:
        harness.diag("failed " + line)
    assert down_s is not None and down_s <= window + slack, down_s
    assert not outside, describe(outside, t_kill)[:10]
    assert up_s is not None and up_s <= INTER * RISE + INTER + slack, up_s
    assert stot1 > stot0, "backend 2 took no session after its restart"
    assert d2.alive()


@harness.timeout(90)
def test_5_rolling_restart_under_load():
    """Each backend in turn gets SIGTERM and is started again (as soon as
    its listener is closed) while a steady load runs through HAProxy:
    3 clients each open a short session every 4 ms, and 20 long-lived
    sessions stream a line every 20 ms.  Short sessions failed: 0; every
    long-lived session answered to its last byte; no byte wrong."""
    balancer.in_suite()
    ha = balancer.balancer("haproxy")
    limits = {"drain_timeout": 10}
    ds = start_backends(limits)
    balancer.wait_backends_up(ha, PORT)
    load = balancer.Load(PORT, short=3, gap=0.004, long=20,
                         max_seconds=60).start()
    time.sleep(1.5)
    t0 = time.monotonic()
    stops = []
    old = []
    for i in range(3):
        d = ds[i]
        t_stop = time.monotonic()
        d.signal(signal.SIGTERM)
        if not harness.wait_for(lambda: not balancer.listening(
                d.pid, balancer.BACKENDS[i], balancer.PLAIN), 5, 0.005):
            raise AssertionError("backend %d still listening 5 s after "
                                 "SIGTERM" % (i + 1))
        ds[i] = balancer.backend(i, balancer.backend_conf(i, limits=limits))
        old.append(d)
        t_up = wait_state(ha, i, lambda s: s == "UP", 5)
        stops.append((t_stop - t0, None if t_up is None else t_up - t0))
        time.sleep(INTER * (RISE + 1) + 0.5)   # in service again
    time.sleep(1.0)
    assert load.stop(15), "load threads did not end"
    for d in old:
        rc = d.wait_exit(15)
        assert rc == 0, "old backend exited %r" % rc
    shorts, longs = len(load.shorts), len(load.longs)
    sf, lf = load.short_failures(), load.long_failures()
    answered = sum(r[3] for r in load.longs)
    figure("5 rolling restart: short sessions",
           "%d of %d failed" % (len(sf), shorts), "0")
    figure("5 rolling restart: long-lived sessions",
           "%d of %d answered to the last byte (%d bytes)" %
           (longs - len(lf), longs, answered), "all")
    figure("5 rolling restart: bytes wrong", "%d" % load.wrong, "0")
    harness.diag("stops (s from the first; SIGTERM, UP again): %r" % stops)
    for a, b, e in sf[:20]:
        near = min(range(3), key=lambda k: abs(a - t0 - stops[k][0]))
        harness.diag("short failed %+.3f..%+.3f s (%+.3f s from the SIGTERM "
                     "of backend %d): %s" % (a - t0, b - t0,
                                             a - t0 - stops[near][0],
                                             near + 1, e))
    for a, b, e, _ in lf[:20]:
        harness.diag("long failed %+.3f..%+.3f s: %s" % (a - t0, b - t0, e))
    assert shorts > 1000, "too little load: %d short sessions" % shorts
    assert all(u is not None for _, u in stops), stops
    assert load.wrong == 0
    assert not lf, "%d long-lived sessions cut" % len(lf)
    assert not sf, "%d short sessions failed" % len(sf)


if __name__ == "__main__":
    harness.run_tests(globals())
