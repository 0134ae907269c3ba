#!/usr/bin/env python3
"""Faults: descriptors run out, memory runs out, signals at odd moments.

Descriptors: the daemon's RLIMIT_NOFILE is lowered under it (prlimit on
the running process), so accept(2) fails with EMFILE while clients wait
in the backlog.  The worker must back off rather than spin (its CPU time
is measured), and serve the waiting clients once descriptors free up.

Memory: tests/faults/failmalloc.so, preloaded, makes calloc/realloc fail
while a file exists.  The connection that needed the memory goes; the
others, and the daemon, go on.  (Skipped in sanitizer builds, whose
allocator cannot be interposed.)

Signals, as defined in upcased(8): a SIGHUP while a reload is under way
means one more reload after it; SIGHUP while stopping is ignored; SIGTERM
during a reload abandons the reload (its parsing child is killed) and
stops; the main thread keeps taking signals and feeding the watchdog
while a reload waits for its parser.
"""

import errno
import os
import resource
import signal
import socket
import threading
import time

import harness
from harness import (Daemon, closed_unanswered, conf, diag, expect_eof,
                     recv_exact, tcp_connect, tcp_echo, upper, wait_for)

FAILMALLOC = os.environ.get("UPCASED_FAILMALLOC") or os.path.join(
    harness.SRCDIR, "tests", "faults", "failmalloc.so")


def cpu_seconds(pid):
    """User + system CPU time of the whole process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def fd_table(pid):
    out = {}
    for x in os.listdir("/proc/%d/fd" % pid):
        try:
            out[int(x)] = os.readlink("/proc/%d/fd/%s" % (pid, x))
        except OSError:
            pass
    return out


def lowest_free_fd(pid):
    """The descriptor number pid's next open would get."""
    used = fd_table(pid)
    n = 0
    while n in used:
        n += 1
    return n


def sanitizer_build():
    """Is the daemon built with a sanitizer runtime?"""
    with open(harness.BIN, "rb") as f:
        blob = f.read()
    return b"__asan_init" in blob or b"__tsan_init" in blob


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- descriptors ------------------------------------------------------------

@harness.timeout(60)
def test_emfile_backs_off_idle_and_recovers():
    d = Daemon(conf(workers=1, limits={"max_connections_per_source": 0}),
               env={"WATCHDOG_USEC": "400000"})
    held = [tcp_connect(d.port) for _ in range(3)]
    for s in held:
        tcp_echo(s, b"held\n")
    soft, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
    # no room beyond what is open now: the next accept gets EMFILE
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE,
                     (lowest_free_fd(d.pid), hard))
    waiting = [tcp_connect(d.port) for _ in range(20)]  # in the backlog
    for i, s in enumerate(waiting):
        s.sendall(b"waiting %d\n" % i)
    d.wait_stderr(r"accept \(backing off", timeout=5)
    cpu0, t0 = cpu_seconds(d.pid), time.monotonic()
    # the watchdog goes on being fed: the daemon still serves what it has
    wd = sum(1 for m in d.collect_notify(2.0) if "WATCHDOG=1" in m)
    cpu = cpu_seconds(d.pid) - cpu0
    wall = time.monotonic() - t0
    # a worker spinning on accept would burn about one CPU second per second
    bound = 0.5 if d.sanitizer() else 0.2
    diag("EMFILE for %.1f s: daemon used %.2f s of CPU (bound %.1f)" %
         (wall, cpu, bound))
    assert cpu < bound, "busy loop at EMFILE: %.2f s of CPU in %.1f s" % (
        cpu, wall)
    assert d.stderr().count("accept (backing off") == 1, \
        "the EMFILE warning is not rate-limited"
    diag("WATCHDOG=1 during those %.1f s: %d" % (wall, wd))
    assert wd >= 3, "the watchdog starved at EMFILE: %d WATCHDOG=1" % wd
    # the held connections are still served meanwhile
    for s in held:
        tcp_echo(s, b"still served\n")
    # descriptors free up: the waiting clients are taken and answered
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (soft, hard))
    t0 = time.monotonic()
    for i, s in enumerate(waiting):
        exp = b"WAITING %d\n" % i
        got = recv_exact(s, len(exp), timeout=5)
        assert got == exp, (got, exp)
    diag("after the limit was raised: 20 waiting clients answered in "
         "%.2f s" % (time.monotonic() - t0))
    tcp_echo(tcp_connect(d.port), b"new after recovery\n")


@harness.timeout(60)
def test_emfile_recovers_when_connections_close():
    d = Daemon(conf(workers=2, limits={"max_connections_per_source": 0}))
    held = [tcp_connect(d.port) for _ in range(6)]
    for s in held:
        tcp_echo(s, b"held\n")
    _, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE,
                     (lowest_free_fd(d.pid), hard))
    waiting = [tcp_connect(d.port) for _ in range(5)]
    for s in waiting:
        s.sendall(b"queued\n")
    d.wait_stderr(r"accept \(backing off", timeout=5)
    time.sleep(0.3)
    for s in waiting:
        assert harness.select.select([s], [], [], 0)[0] == [], \
            "answered while no descriptor was free; now %r" % sorted(
                fd_table(d.pid).items())
    # five connections end: five descriptors for the five waiting
    for s in held[:5]:
        s.close()
    for s in waiting:
        assert recv_exact(s, 7, timeout=5) == b"QUEUED\n"
    tcp_echo(held[5], b"the sixth stayed\n")
    diag("5 clients waited out EMFILE and were answered once 5 others "
         "closed")


# --- memory -------------------------------------------------------------------

def failmalloc_daemon(config, what="calloc,realloc", minsize=0):
    if not os.path.exists(FAILMALLOC):
        raise AssertionError("%s is missing (make check builds it)" %
                             FAILMALLOC)
    if sanitizer_build():
        raise harness.Skip("a sanitizer build: its allocator cannot be "
                           "interposed")
    d = Daemon(config, env={"LD_PRELOAD": FAILMALLOC,
                            "FAILMALLOC_FILE": "{CONF}.oom",
                            "FAILMALLOC_WHAT": what,
                            "FAILMALLOC_MIN": str(minsize)})
    return d, d.conf_path + ".oom"


@harness.timeout(60)
def test_oom_new_connections_refused_others_go_on():
    d, trigger = failmalloc_daemon(conf(workers=2))
    old = [tcp_connect(d.port) for _ in range(4)]
    for s in old:
        tcp_echo(s, b"before\n")
    harness.write_file(trigger, "")
    new = []
    for _ in range(20):
        s = tcp_connect(d.port)
        s.sendall(b"hello?\n")
        new.append(s)
    n_refused = sum(1 for s in new if closed_unanswered(s))
    for s in old:
        tcp_echo(s, b"during the shortage\n")
    u = harness.udp_exchange(d.port, b"udp during the shortage")
    assert u == b"UDP DURING THE SHORTAGE", u
    os.unlink(trigger)
    tcp_echo(tcp_connect(d.port), b"after\n")
    for s in old:
        tcp_echo(s, b"after\n")
    warned = d.stderr().count("out of memory for a new connection")
    diag("out of memory: %d of 20 new connections refused, 4 old ones and "
         "UDP served; %d warning(s)" % (n_refused, warned))
    assert n_refused == 20, "%d of 20 refused" % n_refused
    assert warned == 1, "%d warnings (rate limit: 1)" % warned
    assert d.stop() == 0
    assert "connections (20 refused)" in d.stderr(), d.stderr_tail(3)


@harness.timeout(60)
def test_oom_output_buffer_closes_that_connection_only():
    # realloc fails: a client whose replies must be queued loses its
    # connection; one whose replies go straight out does not notice.
    d, trigger = failmalloc_daemon(conf(workers=1), what="realloc")
    calm = tcp_connect(d.port)
    tcp_echo(calm, b"calm\n")
    harness.write_file(trigger, "")
    hog = tcp_connect(d.port)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    chunk = b"x" * 65536
    sent = 0
    closed = False
    hog.settimeout(0.5)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20 and sent < (256 << 20):
        try:
            sent += hog.send(chunk)
        except socket.timeout:
            if d.stderr().count("out of memory") > 0:
                break
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
    d.wait_stderr("out of memory for a connection's output", timeout=5)
    tcp_echo(calm, b"still calm\n")
    # the hog's connection is gone: reading ends in EOF or a reset
    if not closed:
        hog.settimeout(5)
        try:
            while hog.recv(1 << 20):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
    assert closed, "the connection that ran out of memory is still open"
    os.unlink(trigger)
    tcp_echo(tcp_connect(d.port), b"new one\n")
    diag("out of memory for output after %d MiB sent unread: that "
         "connection closed, the other served" % (sent >> 20))
    assert d.alive()


@harness.timeout(60)
def test_oom_reload_refused_old_config_serves():
    # the parser's child cannot allocate: the reload is refused, cleanly
    d, trigger = failmalloc_daemon(conf(workers=2), what="malloc,calloc")
    s = tcp_connect(d.port)
    tcp_echo(s, b"before\n")
    harness.write_file(trigger, "")
    try:
        d.reload(conf(workers=3, exit_command="bye"))
    finally:
        os.unlink(trigger)
    d.wait_stderr("reload refused", timeout=3)
    tcp_echo(s, b"after\n")
    s.sendall(b"bye\n")
    assert recv_exact(s, 4, timeout=3) == b"BYE\n", \
        "the refused reload's exit command took effect"
    d.reload()
    s.sendall(b"bye\n")
    expect_eof(s)
    diag("reload with allocations failing: refused, old config kept; "
         "the next one applied")


# --- signals at odd moments ---------------------------------------------------

def fifo_config(d, fifo):
    """The config of d with an @include of a FIFO: its parser blocks."""
    return d.config_template + '@include "%s"\n' % fifo


def fifo_writer(path, timeout=5.0):
    """Open the FIFO for writing as soon as its reader (the parser) has
    it open; until we write and close, the parser waits for its text."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            return fd
        except OSError as e:
            if e.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@harness.timeout(60)
def test_sigterm_during_reload_abandons_it():
    d = Daemon(conf(workers=2), env={"WATCHDOG_USEC": "400000"})
    fifo = os.path.join(d.dir, "slow.conf")
    os.mkfifo(fifo)
    s = tcp_connect(d.port)
    tcp_echo(s, b"before\n")
    d.reload(fifo_config(d, fifo), wait=False)
    d.expect_notify("RELOADING=1", 3)
    wait_for(lambda: children(d.pid), 3)
    parser = children(d.pid)
    assert parser, "no parsing child under way"
    # the reload hangs on its parser; the daemon goes on meanwhile
    msgs = d.collect_notify(1.0)
    wd = sum(1 for m in msgs if "WATCHDOG=1" in m.split("\n"))
    tcp_echo(s, b"while the parser hangs\n")
    assert wd >= 2, "%d WATCHDOG=1 in 1 s while reloading" % wd
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    expect_eof(s)           # nothing pending: our FIN at once
    s.close()
    rc = d.wait_exit(5)
    took = time.monotonic() - t0
    assert rc == 0, rc
    assert "SIGTERM during a reload: the reload is abandoned" in d.stderr()
    assert not any(pid_alive(p) for p in parser), "the parser outlived us"
    diag("SIGTERM during a hung reload: exit 0 in %.2f s (parser killed); "
         "%d WATCHDOG=1 in the second before" % (took, wd))
    assert took < 3, "took %.1f s to stop" % took


@harness.timeout(60)
def test_sighup_during_reload_reloads_again():
    d = Daemon(conf(workers=2, exit_command=None))
    fifo = os.path.join(d.dir, "slow.conf")
    os.mkfifo(fifo)
    s = tcp_connect(d.port)
    d.reload(fifo_config(d, fifo), wait=False)
    d.expect_notify("RELOADING=1", 3)
    w = fifo_writer(fifo)
    # the file changes, and a second SIGHUP comes, while the first
    # parse waits on the FIFO
    d.write_config(conf(workers=2, exit_command="second"))
    d.signal(signal.SIGHUP)
    d.wait_stderr("SIGHUP during a reload: reloading again", timeout=3)
    # the first parse ends (a FIFO is refused as "not a regular file");
    # the second one reads the new file and applies it
    os.write(w, b'exit_command = "first";\n')
    os.close(w)
    d.wait_stderr("reloaded ", timeout=5)
    d.expect_notify("READY=1", 5)
    err = d.stderr()
    assert err.count("reload refused") == 1, err
    assert err.count("info: reloading /") == 2, err
    s.sendall(b"first\n")
    assert recv_exact(s, 6, timeout=3) == b"FIRST\n"
    s.sendall(b"second\n")
    expect_eof(s)
    diag("SIGHUP during a reload: the first refused, then one more reload "
         "read the file again and applied it")


@harness.timeout(40)
def test_reload_parser_timeout_refused_and_serving():
    d = Daemon(conf(workers=1, exit_command="bye"))
    fifo = os.path.join(d.dir, "never.conf")
    os.mkfifo(fifo)
    s = tcp_connect(d.port)
    d.reload(fifo_config(d, fifo), wait=False)
    d.expect_notify("RELOADING=1", 3)
    t0 = time.monotonic()
    tcp_echo(s, b"serving meanwhile\n")
    d.expect_notify("READY=1", 15)
    took = time.monotonic() - t0
    d.wait_stderr("did not finish within 10 seconds", timeout=2)
    assert "reload refused" in d.stderr()
    s.sendall(b"bye\n")
    expect_eof(s)
    assert not children(d.pid), "the hung parser was not reaped"
    diag("a parser that never finishes: refused after %.1f s, READY=1, "
         "served throughout" % took)
    assert 9 < took < 13, took


@harness.timeout(60)
def test_sighup_storm():
    d = Daemon(conf(workers=2, limits={"max_connections_per_source": 0}))
    stop = threading.Event()
    errors = []
    counts = [0]

    def client():
        try:
            s = tcp_connect(d.port)
            i = 0
            while not stop.is_set() and i < 100000:
                msg = b"storm line %d\n" % i
                s.sendall(msg)
                got = recv_exact(s, len(msg), timeout=5)
                if got != upper(msg):
                    errors.append((msg, got))
                    return
                i += 1
            counts[0] += i
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    for i in range(300):           # in bursts of 10, 5 ms apart
        os.kill(d.pid, signal.SIGHUP)
        if i % 10 == 9:
            time.sleep(0.005)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(10)
    assert not errors, errors[:3]
    assert d.alive()
    # settled: the last message is READY=1 after the last RELOADING=1
    d.collect_notify(0.5)
    msgs = [m for _, m in d.messages]
    last_rl = max(i for i, m in enumerate(msgs) if "RELOADING=1" in m)
    assert any("READY=1" in m for m in msgs[last_rl:]), msgs[-5:]
    reloads = d.stderr().count("reloaded ")
    assert "refused" not in d.stderr(), d.stderr_tail()
    tcp_echo(tcp_connect(d.port), b"after the storm\n")
    diag("300 SIGHUPs in bursts: %d reloads done, %d lines exchanged "
         "by 4 clients meanwhile, none lost" % (reloads, counts[0]))
    assert reloads >= 1


@harness.timeout(60)
def test_sighup_during_drain_ignored():
    # drain_timeout is a bound, not the measure: 32 MiB under TSan on a
    # busy machine took longer than 5 s (the drain then cut it short)
    d = Daemon(conf(workers=1, limits={"drain_timeout": 40}))
    s = tcp_connect(d.port)
    data = harness.fill_random_lower(32 << 20, seed=6)
    # send all, then FIN, while not reading: replies pile up until the
    # daemon stops reading and the sender blocks
    t, res = harness.sender_thread(s, data, then_shutdown=True)
    time.sleep(0.5)
    assert not res["done"], "sent 32 MiB unread: no backpressure?"
    d.signal(signal.SIGTERM)
    d.wait_stderr("stopping on SIGTERM", timeout=3)
    for _ in range(5):
        d.signal(signal.SIGHUP)
        time.sleep(0.02)
    d.wait_stderr("SIGHUP while stopping: ignored", timeout=3)
    got = harness.recv_until_eof(s, timeout=40, limit=64 << 20)
    t.join(10)
    rc = d.wait_exit(10)
    assert rc == 0, rc
    assert res["done"], res
    assert "reloading" not in d.stderr()
    # every byte sent before our FIN was answered, in order
    harness.check_bytes(got, upper(data), "reply during the drain")
    diag("SIGHUP x5 during the drain: ignored; all %d bytes answered, "
         "exit 0" % len(got))


@harness.timeout(60)
def test_second_sigterm_stops_at_once():
    d = Daemon(conf(workers=1, limits={"drain_timeout": 30}))
    s = tcp_connect(d.port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    try:
        for _ in range(400):
            s.send(b"y" * 65536)
    except socket.timeout:
        pass            # the daemon stopped reading: replies queued
    d.signal(signal.SIGTERM)
    d.wait_stderr("stopping on SIGTERM", timeout=3)
    time.sleep(0.3)
    assert d.alive(), "did not wait for the unread replies"
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(5)
    assert rc == 0, rc
    assert "SIGTERM again: stopping at once" in d.stderr()
    diag("a second SIGTERM during a 30 s drain: exit 0 in %.2f s" %
         (time.monotonic() - t0))


if __name__ == "__main__":
    harness.run_tests(globals())
