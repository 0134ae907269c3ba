#!/usr/bin/env python3
"""Socket activation (LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES)."""

import os
import re
import shutil
import socket
import time

import harness
from harness import (Daemon, conf, diag, tcp_connect, tcp_echo,
                     udp_exchange, tcp_refused, wait_for, LOCAL4)

SSA = shutil.which("systemd-socket-activate") or \
    "/usr/bin/systemd-socket-activate"

# config ports are {P1}: they must stay unused; the sockets are on {P0}
CONF_UNUSED = conf(tcp="[ {P1} ]", udp="[ {P1} ]")


def need_ssa():
    if not os.access(SSA, os.X_OK):
        raise harness.Skip("systemd-socket-activate not installed")


def assert_unused(port):
    assert not harness.tcp_listening(port), \
        "config TCP port %d is listened on" % port
    assert not harness.udp_bound(port), "config UDP port %d is bound" % port
    assert tcp_refused(port), "config TCP port %d accepts" % port


def argv_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().decode().split("\0")
    except OSError:
        return []


def test_systemd_socket_activate_stream():
    need_ssa()
    d = Daemon(CONF_UNUSED, nports=2, ready=None,
               argv_prefix=[SSA, "-l", "127.0.0.1:{P0}",
                            "-E", "NOTIFY_SOCKET={NOTIFY}"])
    assert wait_for(lambda: harness.tcp_listening(d.port), 5), \
        "systemd-socket-activate not listening on %d" % d.port
    t0 = time.monotonic()
    s = tcp_connect(d.port)     # the first connection starts the daemon
    s.sendall(b"activated stream\n")
    got = harness.recv_exact(s, 17, timeout=10)
    harness.check_bytes(got, b"ACTIVATED STREAM\n")
    d.expect_notify("READY=1", 5)
    diag("first reply %.1f ms after connect (exec included)" %
         ((time.monotonic() - t0) * 1000))
    assert harness.BIN in argv_of(d.pid)[:2], "pid %d runs %r" % (
        d.pid, argv_of(d.pid))
    tcp_echo(tcp_connect(d.port), b"second client\n")
    assert_unused(d.ports[1])
    # no UDP on the activated set: the config's UDP port is not used
    assert udp_exchange(d.ports[1], b"x", timeout=0.5) is None
    rc = d.stop()
    assert rc == 0, "exit status %d" % rc


def test_systemd_socket_activate_datagram():
    need_ssa()
    d = Daemon(CONF_UNUSED, nports=2, ready=None,
               argv_prefix=[SSA, "--datagram", "-l", "127.0.0.1:{P0}",
                            "-E", "NOTIFY_SOCKET={NOTIFY}"])
    assert wait_for(lambda: harness.udp_bound(d.port), 5), \
        "systemd-socket-activate not bound to UDP %d" % d.port
    s = harness.udp_socket()
    # the first datagram starts the daemon and must be answered too
    reply = udp_exchange(d.port, b"first datagram", sock=s, timeout=10)
    assert reply == b"FIRST DATAGRAM", "reply %r" % (reply,)
    d.expect_notify("READY=1", 5)
    assert udp_exchange(d.port, b"second one") == b"SECOND ONE"
    assert_unused(d.ports[1])
    assert tcp_refused(d.port), "TCP on the activated UDP port?"
    rc = d.stop()
    assert rc == 0, "exit status %d" % rc


def make_sockets(port):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((LOCAL4, port))
    t.listen(128)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((LOCAL4, port))
    harness.defer(t.close)
    harness.defer(u.close)
    return t, u


def activated_daemon(names="tcp:udp", order="tu", listen_pid="self",
                     config=CONF_UNUSED, extra_env=None):
    """Allocate ports, make a stream and a datagram socket on P0 and start
    the daemon with them as fds 3 and 4 (our own activator)."""
    ports = harness.alloc_ports(2)
    t, u = make_sockets(ports[0])
    fds = [t.fileno(), u.fileno()] if order == "tu" else \
        [u.fileno(), t.fileno()]
    env = dict(extra_env or {})
    if names is not None:
        env["LISTEN_FDNAMES"] = names
    d = Daemon(config, nports=0, listen_fds=fds, listen_pid=listen_pid,
               env=env, start=False)
    d.ports = ports
    d.start()
    # our copies are not needed any more: the daemon must do on its own
    t.close()
    u.close()
    return d


def test_own_activator_stream_and_datagram():
    d = activated_daemon()
    diag("time from exec to READY=1 (activated): %.1f ms" % d.ready_ms)
    tcp_echo(tcp_connect(d.port), b"activated tcp\n")
    assert udp_exchange(d.port, b"activated udp") == b"ACTIVATED UDP"
    assert_unused(d.ports[1])
    rc = d.stop()
    assert rc == 0, "exit status %d" % rc


def test_own_activator_without_names_datagram_first():
    """No LISTEN_FDNAMES, UDP socket first: the type decides."""
    d = activated_daemon(names=None, order="ut")
    tcp_echo(tcp_connect(d.port), b"unnamed tcp\n")
    assert udp_exchange(d.port, b"unnamed udp") == b"UNNAMED UDP"
    assert_unused(d.ports[1])


def test_activation_logs_config_ports_unused_once():
    d = activated_daemon()
    tcp_echo(tcp_connect(d.port), b"x\n")
    time.sleep(0.2)
    err = d.stderr()
    hits = [l for l in err.splitlines()
            if re.search(r"ignor|not used|unused", l, re.I)]
    diag("stderr: %r" % err.splitlines()[:10])
    assert len(hits) == 1, "expected one line saying the config ports are " \
        "not used, found %d: %r" % (len(hits), hits)


def test_activation_survives_reload():
    """SIGHUP with activated sockets keeps serving them and still does not
    bind the config's ports."""
    d = activated_daemon()
    s = tcp_connect(d.port)
    tcp_echo(s, b"before\n")
    d.reload()
    tcp_echo(s, b"after\n")
    tcp_echo(tcp_connect(d.port), b"new after reload\n")
    assert udp_exchange(d.port, b"udp after") == b"UDP AFTER"
    assert_unused(d.ports[1])


def test_listen_pid_not_ours_means_not_activated():
    """LISTEN_PID of another process: the fds are not for us; the daemon
    binds the config's ports (sd_listen_fds semantics)."""
    d = activated_daemon(listen_pid=os.getpid())
    p = d.ports[1]
    tcp_echo(tcp_connect(p), b"config port\n")
    assert udp_exchange(p, b"config udp") == b"CONFIG UDP"


def test_non_socket_fd_is_an_error():
    r, w = os.pipe()
    harness.defer(lambda: (os.close(r), os.close(w)))
    d = Daemon(CONF_UNUSED, nports=2, listen_fds=[r], ready=None)
    rc = d.wait_exit(5)
    err = d.stderr()
    diag("exit %d; stderr: %s" % (rc, " | ".join(err.splitlines()[-3:])))
    assert rc != 0, "a pipe passed as fd 3 was accepted"
    assert rc > 0, "killed by signal %d" % -rc
    assert re.search(r"socket|descriptor|\bfd\b", err, re.I), \
        "stderr does not explain the problem: %r" % err[-400:]
    assert_unused(d.ports[1])


def test_udp_socket_named_tcp_is_an_error_or_served():
    """A datagram socket named "tcp": the name must not make the daemon
    accept() on it; either it is served as UDP or refused at start."""
    try:
        d = activated_daemon(names="udp:tcp")   # names swapped
    except harness.DaemonExited:
        d = harness._daemons[-1]
        rc = d.proc.returncode
        diag("refused: exit %r; stderr: %s" % (rc, " | ".join(
            d.stderr_tail(2))))
        assert rc is not None and rc > 0, "exit status %r" % rc
        assert re.search(r"fd 3|stream|name", d.stderr(), re.I), \
            "stderr does not explain the refusal: %r" % d.stderr()[-300:]
        return
    assert udp_exchange(d.port, b"swapped") == b"SWAPPED"
    tcp_echo(tcp_connect(d.port), b"swapped\n")


if __name__ == "__main__":
    harness.run_tests(globals())
