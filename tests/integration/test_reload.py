#!/usr/bin/env python3
"""Reload on SIGHUP: connections survive, settings take effect, a broken
file keeps the old configuration."""

import signal
import socket
import time

import harness
from harness import (Daemon, conf, diag, tcp_connect, tcp_echo, recv_exact,
                     recv_until_eof, check_bytes, udp_exchange, tcp_refused,
                     wait_for, upper, LOCAL4)


def test_client_survives_reloads():
    d = Daemon(conf())
    s = tcp_connect(d.port)
    tcp_echo(s, b"before any reload\n")
    times = []
    for i in range(5):
        times.append(d.reload())
        tcp_echo(s, b"after reload %d\n" % (i + 1))
        assert d.alive()
    diag("reload (SIGHUP to READY=1): %s ms" %
         ", ".join("%.1f" % (t * 1000) for t in times))
    # a partial line across a reload is kept too
    s.sendall(b"half ")
    check_bytes(recv_exact(s, 5), b"HALF ")
    d.reload()
    tcp_echo(s, b"and the rest\n")


def threads_settle(d, want, timeout=3.0):
    ok = wait_for(lambda: d.threads() == want, timeout)
    return ok, d.threads()


def test_reload_workers():
    d = Daemon(conf(workers=1))
    s = tcp_connect(d.port)
    tcp_echo(s, b"one worker\n")
    t1 = d.threads()
    d.reload(conf(workers=4))
    ok, t4 = threads_settle(d, t1 + 3)
    diag("threads: %d with workers = 1, %d after reload to 4" % (t1, t4))
    tcp_echo(s, b"four workers\n")
    # new connections are spread and served
    for i in range(8):
        tcp_echo(tcp_connect(d.port), b"client %d\n" % i)
    assert ok, "threads %d -> %d after workers 1 -> 4 (expected +3)" % (
        t1, t4)
    d.reload(conf(workers=1))
    ok, t1b = threads_settle(d, t1)
    diag("threads after reload back to 1: %d" % t1b)
    tcp_echo(s, b"one worker again\n")
    for i in range(4):
        tcp_echo(tcp_connect(d.port), b"again %d\n" % i)
    assert ok, "threads %d after workers 4 -> 1, expected %d" % (t1b, t1)
    assert udp_exchange(d.port, b"udp still") == b"UDP STILL"


def test_reload_exit_command():
    d = Daemon(conf(exit_command="exit"))
    s = tcp_connect(d.port)
    tcp_echo(s, b"quit\n")
    d.reload(conf(exit_command="quit"))
    tcp_echo(s, b"exit\n")                  # not the command any more
    s.sendall(b"bye\nquit\n")
    check_bytes(recv_until_eof(s, timeout=5), b"BYE\n",
                "connected client after exit -> quit")
    n = tcp_connect(d.port)
    tcp_echo(n, b"exit\n")
    n.sendall(b"quit\n")
    check_bytes(recv_until_eof(n, timeout=5), b"", "new client")
    # and disabled
    d.reload(conf(exit_command=""))
    m = tcp_connect(d.port)
    tcp_echo(m, b"quit\n")
    tcp_echo(m, b"exit\n")


def read_for(sock, want, timeout=2.0):
    """Read until want bytes, EOF or timeout: (data, eof)."""
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < want:
        left = deadline - time.monotonic()
        if left <= 0 or not harness.select.select([sock], [], [], left)[0]:
            return data, False
        try:
            chunk = sock.recv(100)
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def test_reload_exit_command_mid_line():
    """A line held back as a possible exit command when a reload changes
    the command.  Judged by the old command or by the new one, the line is
    either the command (session ends) or echoed as sent; never bytes of
    the new command's text, never a crash."""
    old = b"exit"
    cases = [  # held before the reload, new command, rest of the line
        (b"ex", "quit", b"it\n"),
        (b"exi", "q", b"t\n"),
        (b"exi", "", b"t\n"),
        (b"e", "a-much-longer-exit-command", b"xit\n"),
        (b"ex", "xxab", b"ab\n"),       # "exab": neither old nor new
        (b"ex", "quit", b"it now\n"),   # neither
    ]
    d = Daemon(conf(exit_command=old.decode()))
    failures = []
    for held, new_cmd, rest in cases:
        d.reload(conf(exit_command=old.decode()))
        s = tcp_connect(d.port)
        tcp_echo(s, b"start\n")
        s.sendall(held)
        time.sleep(0.1)
        d.reload(conf(exit_command=new_cmd))
        s.sendall(rest)
        line = held + rest
        body = line.rstrip(b"\n")
        ok = set()
        for cmd in (old, new_cmd.encode()):
            ok.add((b"", True) if cmd and body == cmd else
                   (upper(line), False))
        got, eof = read_for(s, len(line), 2.0)
        if not eof and got == upper(line):
            harness.expect_silence(s, 0.2)
        desc = "%r + reload to %r + %r: got %r%s" % (
            held, new_cmd, rest, got, " and EOF" if eof else "")
        diag(desc)
        if (got, eof) not in ok:
            failures.append("%s; acceptable: %r" % (desc, sorted(ok)))
        if not eof:
            try:
                tcp_echo(s, b"session goes on\n")
            except AssertionError as e:
                failures.append("%s; then: %s" % (desc, e))
        assert d.alive(), "daemon died"
        s.close()
    tcp_echo(tcp_connect(d.port), b"alive\n")
    assert not failures, "\n".join(failures)


def test_reload_add_and_remove_ports():
    d = Daemon(conf(tcp="[ {P0} ]", udp="[ {P0} ]"), nports=2)
    a, b = d.ports
    s_a = tcp_connect(a)
    tcp_echo(s_a, b"on a\n")
    assert tcp_refused(b), "port %d answers before it is configured" % b
    d.reload(conf(tcp="[ {P0}, {P1} ]", udp="[ {P0}, {P1} ]"))
    tcp_echo(tcp_connect(b), b"new port b\n")
    assert udp_exchange(b, b"udp on b") == b"UDP ON B", "UDP on added port"
    tcp_echo(s_a, b"old client on a\n")
    d.reload(conf(tcp="[ {P1} ]", udp="[ {P1} ]"))
    assert tcp_refused(a), "removed TCP port %d still accepts" % a
    assert udp_exchange(a, b"gone", timeout=0.7) is None, \
        "removed UDP port %d still answers" % a
    tcp_echo(tcp_connect(b), b"b stays\n")
    assert udp_exchange(b, b"b stays") == b"B STAYS"
    # the client connected through a removed port: report what happens
    try:
        s_a.sendall(b"still there?\n")
        r = harness.select.select([s_a], [], [], 1)[0]
        diag("client on removed port: %s" % (
            repr(s_a.recv(100)) if r else "no answer in 1 s"))
    except OSError as e:
        diag("client on removed port: %s" % e)
    # and back: the port can be added again
    d.reload(conf(tcp="[ {P0}, {P1} ]", udp="[ {P0} ]"))
    tcp_echo(tcp_connect(a), b"a again\n")
    assert udp_exchange(a, b"a again") == b"A AGAIN"
    assert udp_exchange(b, b"b udp gone", timeout=0.7) is None


def test_reload_change_bind_same_port():
    """Same port, other address: from 127.0.0.1 to ::1 (if IPv6)."""
    if not harness.ipv6_available():
        raise harness.Skip("no IPv6")
    d = Daemon(conf(bind='"127.0.0.1"'))
    tcp_echo(tcp_connect(d.port), b"v4\n")
    d.reload(conf(bind='"::1"'))
    tcp_echo(tcp_connect(d.port, host=harness.LOCAL6), b"v6\n")
    assert tcp_refused(d.port), "127.0.0.1 still accepts after bind ::1"


BROKEN = [
    # (name, text, line)
    ("syntax error", "workers = 2;\n\nexit_command = = \"quit\";\n", 3),
    ("unknown setting", "workers = 2;\n"
     "tcp = { ports = [ {P0} ];\n  prots = [ 1 ]; };\n", 3),
    ("out of range", "workers = 2;\nlimits = {\n  idle_timeout = 100000;\n"
     "};\n", 3),
    ("duplicate port", "tcp = { ports = [ {P0}, {P0} ]; };\n", 1),
]


def test_reload_broken_file_keeps_old_config():
    d = Daemon(conf(exit_command="exit"))
    s = tcp_connect(d.port)
    tcp_echo(s, b"before\n")
    notify_problems = []
    for name, text, line in BROKEN:
        d.write_config(text)
        mark = len(d.stderr())
        d._read_notify(0)
        d._cursor = len(d.messages)
        d.signal(signal.SIGHUP)
        want = "%s:%d:" % (d.conf_path, line)
        ok = wait_for(lambda: want in d.stderr()[mark:], 5)
        new = d.stderr()[mark:]
        assert ok, "%s: no %r on stderr after SIGHUP; new stderr: %r" % (
            name, want, new[-500:])
        diag("%s: %s" % (name, [l for l in new.splitlines()
                                if want in l][0]))
        # the service manager must hear the reload end even when it is
        # refused (else systemctl reload hangs in "reloading")
        try:
            d.expect_notify("RELOADING=1", 2)
            d.expect_notify("READY=1", 2)
        except AssertionError as e:
            notify_problems.append("%s: %s" % (name, e))
        assert d.alive(), "daemon died after a broken reload (%s)" % name
        # old config: port and exit command
        tcp_echo(s, b"old client after %s\n" % name.encode())
        tcp_echo(s, b"quit\n")
        n = tcp_connect(d.port)
        tcp_echo(n, b"new client\n")
        n.sendall(b"exit\n")
        check_bytes(recv_until_eof(n, timeout=5), b"",
                    "old exit command after %s" % name)
        assert udp_exchange(d.port, b"udp") == b"UDP"
    # what the service manager heard
    d._read_notify(0.1)
    msgs = [m for _, m in d.messages[1:]]
    diag("notify after broken reloads: %r" % msgs[-8:])
    # fixed file: applied by the next SIGHUP
    d.reload(conf(exit_command="quit"))
    tcp_echo(s, b"exit\n")
    s.sendall(b"quit\n")
    check_bytes(recv_until_eof(s, timeout=5), b"",
                "quit after the fixed reload")
    assert not notify_problems, "refused reloads must end with READY=1 " \
        "after RELOADING=1:\n" + "\n".join(notify_problems)


def test_reload_broken_then_fixed_with_new_port():
    d = Daemon(conf(tcp="[ {P0} ]"), nports=2)
    d.write_config("workers = = 1;\n")
    mark = len(d.stderr())
    d.signal(signal.SIGHUP)
    assert wait_for(lambda: "%s:1:" % d.conf_path in d.stderr()[mark:], 5), \
        "no error on stderr"
    assert tcp_refused(d.ports[1])
    tcp_echo(tcp_connect(d.port), b"old port\n")
    d.reload(conf(tcp="[ {P1} ]"))
    tcp_echo(tcp_connect(d.ports[1]), b"fixed file applied\n")
    assert tcp_refused(d.port), "old port still accepts"


def test_reload_refused_logs_every_error():
    d = Daemon(conf(exit_command="exit"))
    mark = len(d.stderr())
    d.write_config("workers = 1;\nlimits = { idle_timeout = -5; };\n"
                   "exit_command = \"quit\";\nbogus = 1;\n")
    d._read_notify(0)
    d._cursor = len(d.messages)
    d.signal(signal.SIGHUP)
    d.expect_notify("RELOADING=1", 3)
    d.expect_notify("READY=1", 3)
    want = ["reload refused, still serving the previous configuration: "
            "2 errors in %s" % d.conf_path,
            "%s:2: limits.idle_timeout: -5 is out of range (0..86400)" %
            d.conf_path,
            "%s:4: unknown setting 'bogus'" % d.conf_path]
    assert wait_for(lambda: want[-1] in d.stderr()[mark:], 5), \
        "no %r in %r" % (want[-1], d.stderr()[mark:])
    new = d.stderr()[mark:].splitlines()
    at = []
    for w in want:
        hit = [i for i, l in enumerate(new) if ": %s" % w in l]
        assert hit, "no log line with %r in %r" % (w, new)
        at.append(hit[0])
    assert at == sorted(at), "not in order: %r" % new
    diag("refused reload, two errors: %s" % " | ".join(new[at[0]:]))
    s = tcp_connect(d.port)
    s.sendall(b"exit\n")
    check_bytes(recv_until_eof(s, timeout=5), b"",
                "old exit command after the refused reload")


def test_reload_port_taken_keeps_old_config():
    """A port that cannot be bound on reload: the reload is refused as a
    whole (old sockets and settings stay) and the daemon keeps running."""
    d = Daemon(conf(tcp="[ {P0} ]", exit_command="exit"), nports=2)
    busy = socket.socket()
    busy.bind((LOCAL4, d.ports[1]))
    busy.listen(1)
    harness.defer(busy.close)
    mark = len(d.stderr())
    d.write_config(conf(tcp="[ {P0}, {P1} ]", exit_command="quit"))
    d._read_notify(0)
    d._cursor = len(d.messages)
    d.signal(signal.SIGHUP)
    notify_problem = None
    try:
        d.expect_notify("RELOADING=1", 2)
        d.expect_notify("READY=1", 2)
    except AssertionError as e:
        notify_problem = str(e)
    time.sleep(0.5)
    new = d.stderr()[mark:]
    diag("stderr: %r" % new[-400:])
    assert d.alive(), "daemon exited after a reload with a busy port"
    s = tcp_connect(d.port)
    tcp_echo(s, b"quit\n")
    s.sendall(b"exit\n")
    check_bytes(recv_until_eof(s, timeout=5), b"",
                "old exit command after a refused reload")
    assert str(d.ports[1]) in new, "the error does not name port %d" % (
        d.ports[1])
    assert notify_problem is None, "refused reload: no READY=1 after " \
        "RELOADING=1: %s" % notify_problem


def test_reload_log_level():
    d = Daemon(conf(level="info"))
    mark = len(d.stderr())
    c = tcp_connect(d.port)
    tcp_echo(c, b"quiet\n")
    c.close()
    time.sleep(0.3)
    d.reload(conf(level="debug"))
    time.sleep(0.2)
    mark2 = len(d.stderr())
    c = tcp_connect(d.port)
    tcp_echo(c, b"loud\n")
    c.close()
    time.sleep(0.3)
    loud = d.stderr()[mark2:]
    assert loud.strip(), "no debug lines after reload to level debug"


if __name__ == "__main__":
    harness.run_tests(globals())
