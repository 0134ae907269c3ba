#!/usr/bin/env python3
"""The watchdog follows the workers: one hung worker thread stops WATCHDOG=1.

A worker thread is frozen on its own (PTRACE_SEIZE + PTRACE_INTERRUPT stop
that thread only; SIGSTOP would stop the whole process), while the main
thread and the other workers keep running.  The daemon must stop feeding
the watchdog, say why in its log, and feed it again once the thread runs.
"""

import ctypes
import os

import harness
from harness import Daemon, conf, diag

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                        ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


def ptrace(req, tid):
    if libc.ptrace(req, tid, None, None) == -1:
        e = ctypes.get_errno()
        raise OSError(e, "ptrace(%#x, %d): %s" % (req, tid, os.strerror(e)))


def worker_tids(pid):
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            name = f.read().strip()
        if name.startswith("upcased-w"):
            out[name] = int(tid)
    return out


def wd_count(msgs):
    return sum(1 for m in msgs if "WATCHDOG=1" in m.split("\n"))


def test_worker_threads_are_named():
    d = Daemon(conf(workers=3))
    names = sorted(worker_tids(d.pid))
    assert names == ["upcased-w0", "upcased-w1", "upcased-w2"], names


def test_hung_worker_stops_watchdog():
    d = Daemon(conf(workers=2),
               env={"WATCHDOG_USEC": "400000"})
    before = wd_count(d.collect_notify(1.0))
    assert before >= 3, "only %d WATCHDOG=1 in 1 s before" % before
    tid = worker_tids(d.pid)["upcased-w1"]
    try:
        ptrace(PTRACE_SEIZE, tid)
    except OSError as e:
        raise harness.Skip("cannot ptrace here: %s" % e)
    ptrace(PTRACE_INTERRUPT, tid)
    try:
        d.collect_notify(0.5)        # the heartbeat goes stale first
        frozen = wd_count(d.collect_notify(1.5))
        diag("WATCHDOG=1 while worker 1 was frozen for 1.5 s: %d" % frozen)
        assert frozen == 0, "%d WATCHDOG=1 while a worker hung" % frozen
        assert d.alive()
    finally:
        ptrace(PTRACE_DETACH, tid)
    after = wd_count(d.collect_notify(1.0))
    diag("WATCHDOG=1 in 1 s after it ran again: %d" % after)
    assert after >= 2, "watchdog not fed again after the worker resumed"
    d.wait_stderr("not responding", timeout=2.0)
    assert d.stop() == 0


if __name__ == "__main__":
    harness.run_tests(globals())
