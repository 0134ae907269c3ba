#!/usr/bin/env python3
"""Command line, --check-config, config errors, exit statuses, logging."""

import os
import re
import socket
import time

import harness
from harness import (Daemon, conf, diag, run_bin, tmpdir, write_file,
                     tcp_connect, tcp_echo, udp_exchange, EX_USAGE, EX_OSERR,
                     EX_CONFIG)


def configure_ac_version():
    try:
        with open(os.path.join(harness.SRCDIR, "configure.ac")) as f:
            m = re.search(r"AC_INIT\(\s*\[?upcased\]?\s*,\s*\[?([^\],\)]+)",
                          f.read())
        return m.group(1).strip() if m else None
    except OSError:
        return None


def test_version():
    for opt in ("-V", "--version"):
        r = run_bin([opt])
        assert r.returncode == 0, "%s exited %d; stderr %r" % (
            opt, r.returncode, r.stderr)
        first = r.stdout.splitlines()[0] if r.stdout else ""
        m = re.match(r"upcased (\S+)$", first)
        assert m, "%s printed %r, expected 'upcased VERSION'" % (opt,
                                                                r.stdout)
        want = configure_ac_version()
        if want:
            assert m.group(1) == want, "%s says %s, configure.ac %s" % (
                opt, m.group(1), want)
    diag("version: %s" % first)


def test_help():
    for opt in ("-h", "--help"):
        r = run_bin([opt])
        assert r.returncode == 0, "%s exited %d" % (opt, r.returncode)
        out = r.stdout
        assert re.search(r"usage", out, re.I), \
            "%s: no usage text on stdout: %r" % (opt, out[:300])
        for word in ("-c", "--check-config", "--log-target", "--version"):
            assert word in out, "%s output does not mention %s" % (opt, word)


def test_usage_errors_exit_64():
    d = tmpdir()
    good = write_file(os.path.join(d, "good.conf"), conf(tcp="[ 8008 ]",
                                                         udp="[ 8008 ]"))
    cases = [
        ["--bogus"],
        ["-x"],
        ["-c"],                                 # missing argument
        ["-c", good, "--log-target=bogus"],
        ["-c", good, "stray-argument"],
        ["--check-config", "-c", good, "--version=3"],
    ]
    bad = []
    for args in cases:
        r = run_bin(args)
        if r.returncode != EX_USAGE:
            bad.append("%r exited %d (expected %d); stderr %r" %
                       (args, r.returncode, EX_USAGE, r.stderr[-200:]))
        elif not r.stderr.strip():
            bad.append("%r exited 64 but printed nothing on stderr" % args)
        diag("%r -> %d: %s" % (args, r.returncode,
                                (r.stderr.strip().splitlines() or [""])[0]))
    assert not bad, "\n".join(bad)


FULL_CONFIG = """\
# every setting, none at its default
workers = 3;
tcp = { ports = [ 18001, 18002 ]; bind = [ "127.0.0.1", "::1" ]; };
udp = { ports = [ 18003 ]; bind = "127.0.0.1"; };
exit_command = "quit";
limits = {
  max_connections = 77;
  idle_timeout = 17;
  max_pending_output = 65536;
  drain_timeout = 9;
  connection_rate = 50;
  connection_burst = 70;
};
proxy_protocol = {
  from = [ "10.0.0.0/8", "127.0.0.1", "fd00::/8" ];
  timeout = 4;
};
access = {
  allow = [ "10.0.0.0/8", "2001:db8::/32" ];
  deny  = [ "10.1.2.0/24" ];
};
log = { level = "debug"; };
"""


def effective(stdout):
    """The settings part of a --check-config output (header dropped)."""
    return [l for l in stdout.splitlines() if not l.startswith("#")]


def test_check_config_ok_and_parses_back():
    d = tmpdir()
    path = write_file(os.path.join(d, "full.conf"), FULL_CONFIG)
    for opt in ("-t", "--check-config"):
        r = run_bin(["-c", path, opt])
        assert r.returncode == 0, "%s exited %d; stderr %r" % (
            opt, r.returncode, r.stderr)
        first = r.stdout.splitlines()[0] if r.stdout else ""
        assert first == "# effective configuration of %s" % path, \
            "first line %r" % first
    out = r.stdout
    diag("--check-config output:")
    for l in out.splitlines():
        diag("  " + l)
    for rx in (r"\bworkers\s*=\s*3\s*;", r"\b18001\b", r"\b18002\b",
               r"\b18003\b", r'"::1"', r'\bexit_command\s*=\s*"quit"\s*;',
               r"\bmax_connections\s*=\s*77\s*;",
               r"\bidle_timeout\s*=\s*17\s*;",
               r"\bmax_pending_output\s*=\s*65536\s*;",
               r"\bdrain_timeout\s*=\s*9\s*;", r'\blevel\s*=\s*"debug"',
               r"\bconnection_rate\s*=\s*50\s*;",
               r"\bconnection_burst\s*=\s*70\s*;",
               r'\bfrom\s*=\s*\[ "10.0.0.0/8", "127.0.0.1/32", "fd00::/8" \];',
               r"\btimeout\s*=\s*4\s*;",
               r'\ballow\s*=\s*\[ "10.0.0.0/8", "2001:db8::/32" \];',
               r'\bdeny\s*=\s*\[ "10.1.2.0/24" \];'):
        assert re.search(rx, out), "output lacks %s" % rx
    # the output is itself a valid config with the same effect
    again = write_file(os.path.join(d, "again.conf"), out)
    r2 = run_bin(["-c", again, "-t"])
    assert r2.returncode == 0, "output does not parse back: exit %d, %r" % (
        r2.returncode, r2.stderr)
    assert effective(r2.stdout) == effective(out), \
        "re-parsed output differs:\n%s\n---\n%s" % (out, r2.stdout)


def test_check_config_defaults():
    """An empty file gives the documented defaults."""
    d = tmpdir()
    path = write_file(os.path.join(d, "empty.conf"), "# nothing\n")
    r = run_bin(["-c", path, "-t"])
    assert r.returncode == 0, "exit %d; %r" % (r.returncode, r.stderr)
    out = r.stdout
    for rx in (r"\b8008\b", r'"::"', r'\bexit_command\s*=\s*"exit"',
               r"\bmax_connections\s*=\s*10000\s*;",
               r"\bidle_timeout\s*=\s*300\s*;",
               r"\bmax_pending_output\s*=\s*1048576\s*;",
               r"\bdrain_timeout\s*=\s*5\s*;", r'\blevel\s*=\s*"info"'):
        assert re.search(rx, out), "default output lacks %s:\n%s" % (rx, out)
    again = write_file(os.path.join(d, "again.conf"), out)
    r2 = run_bin(["-c", again, "-t"])
    assert r2.returncode == 0 and effective(r2.stdout) == effective(out), \
        "defaults output does not parse back the same: %r" % r2.stderr


def test_check_config_does_not_bind():
    """--check-config only validates: a port in use does not matter."""
    d = tmpdir()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    harness.defer(busy.close)
    port = busy.getsockname()[1]
    path = write_file(os.path.join(d, "busy.conf"),
                      conf(tcp="[ %d ]" % port, udp="[ ]"))
    r = run_bin(["-c", path, "-t"])
    assert r.returncode == 0, "exit %d; %r" % (r.returncode, r.stderr)


# (file text, line, exact message after "FILE:LINE: " or None, substrings)
BAD_CONFIGS = [
    ("# test\nworkers = 1;\n"
     'tcp = { ports = [ 8008 ]; bind = "127.0.0.1"; };\n'
     'udp = { ports = [ 8008 ]; bind = "127.0.0.1"; };\n'
     'exit_command = "exit";\n'
     "limits = {\n"
     "  idle_timeout = 100000;\n"
     "};\n",
     7, "limits.idle_timeout: 100000 is out of range (0..86400)", []),
    ("workers = 1;\n\ntcp = {\n  bind = \"127.0.0.1\";\n"
     "  prots = [ 8008 ];\n};\n",
     5, "unknown setting 'tcp.prots'", []),
    ("workers = 1;\ntcp = { ports = [ 8008, 8009, 8008 ]; };\n",
     2, "tcp.ports: duplicate port 8008", []),
    ("workers = 1;\n\nworkers = = 2;\n", 3, None, []),          # syntax
    ('log = { level = "info"; };\ntcp = { ports = [ 1, 2 ; ] };\n', 2, None,
     []),
    ("workers = 257;\n", 1, None, ["workers", "257"]),
    ("\nworkers = -1;\n", 2, None, ["workers"]),
    ('workers = "two";\n', 1, None, ["workers"]),
    ("workers = 1;\nudp = { ports = [ 70000 ]; };\n", 2, None,
     ["udp.ports", "70000"]),
    ("tcp = { ports = [ 0 ]; };\n", 1, None, ["tcp.ports"]),
    ("udp = { ports = [ 9000, 9000 ]; };\n", 1, None,
     ["udp.ports", "duplicate", "9000"]),
    ('tcp = { ports = [ 8008 ];\n  bind = "localhost"; };\n', 2, None,
     ["tcp.bind", "localhost"]),
    ('udp = { bind = [ "127.0.0.1", "999.1.1.1" ]; };\n', 1, None,
     ["udp.bind", "999.1.1.1"]),
    ('log = {\n  level = "verbose";\n};\n', 2, None, ["log.level",
                                                      "verbose"]),
    ("limits = { max_pending_output = 100; };\n", 1, None,
     ["limits.max_pending_output", "100"]),
    ("limits = {\n drain_timeout = 3601;\n};\n", 2, None,
     ["limits.drain_timeout", "3601"]),
    ("limits = { max_connections = 0; };\n", 1, None,
     ["limits.max_connections"]),
    ("exit_command = 5;\n", 1, None, ["exit_command"]),
    ("workers = 1;\nfoo = 1;\n", 2, None, ["unknown setting", "foo"]),
    ("limits = { idle_timeout = 1; colour = \"red\"; };\n", 1, None,
     ["limits.colour"]),
]


def check_bad(path, r, line, exact, subs, whole=True):
    """Problems with the outcome r of a bad config, as a list of text.
    whole: the message must be exactly `exact` (--check-config); else it
    must start with it (a log line may append fields)."""
    probs = []
    if r.returncode != EX_CONFIG:
        probs.append("exit %d, expected %d" % (r.returncode, EX_CONFIG))
    prefix = "%s:%d: " % (path, line)
    lines = [l for l in r.stderr.splitlines() if prefix in l]
    if not lines:
        probs.append("no %r on stderr" % prefix)
    else:
        msg = lines[0][lines[0].index(prefix) + len(prefix):]
        if exact is not None and (msg.strip() != exact if whole
                                  else not msg.startswith(exact)):
            probs.append("message %r, expected %r" % (msg, exact))
        for sub in subs:
            if sub not in msg:
                probs.append("message %r lacks %r" % (msg, sub))
    return probs


def test_check_config_bad_exits_78():
    d = tmpdir()
    failures = []
    for i, (text, line, exact, subs) in enumerate(BAD_CONFIGS):
        path = write_file(os.path.join(d, "bad%02d.conf" % i), text)
        r = run_bin(["-c", path, "--check-config"])
        diag("bad%02d: exit %d: %s" % (i, r.returncode,
                                       r.stderr.strip().replace("\n", " | ")))
        probs = check_bad(path, r, line, exact, subs)
        if probs:
            failures.append("bad%02d (%r): %s" % (i, text, "; ".join(probs)))
    assert not failures, "\n".join(failures)


def test_bad_config_at_start_exits_78():
    """Not only --check-config: a bad file at start is a config error."""
    d = tmpdir()
    failures = []
    for i in (0, 1, 2, 3):
        text, line, exact, subs = BAD_CONFIGS[i]
        path = write_file(os.path.join(d, "start%02d.conf" % i), text)
        r = run_bin(["-c", path, "--log-target=stderr"], timeout=10)
        probs = check_bad(path, r, line, exact, subs, whole=False)
        if probs:
            failures.append("start%02d: %s; stderr %r" % (
                i, "; ".join(probs), r.stderr[-300:]))
    assert not failures, "\n".join(failures)


TWO_MISTAKES = """\
workers = 2;
tcp = { ports = [ 8008, 70000 ]; };
exit_command = "quit";
limits = {
  idle_timeout = 30;
  max_conections = 5;
};
"""
TWO_ERRORS = ["2: tcp.ports: 70000 is out of range (1..65535)",
              "6: unknown setting 'limits.max_conections'"]


def test_check_config_reports_every_error():
    """Two mistakes: two lines, FILE:LINE: setting: message, in file
    order, and nothing else; exit 78."""
    d = tmpdir()
    path = write_file(os.path.join(d, "two.conf"), TWO_MISTAKES)
    r = run_bin(["-c", path, "--check-config"])
    diag("two mistakes: exit %d: %s" % (r.returncode,
                                        r.stderr.strip().replace("\n", " | ")))
    assert r.returncode == EX_CONFIG, "exit %d" % r.returncode
    assert r.stdout == "", "printed settings: %r" % r.stdout[:200]
    want = ["%s:%s" % (path, e) for e in TWO_ERRORS]
    assert r.stderr.splitlines() == want, "stderr %r, expected %r" % (
        r.stderr, want)


def test_check_config_bad_prefixes():
    """A bad address or prefix names file, line, setting and entry; a
    duplicate is an error, a prefix in both allow and deny is not."""
    d = tmpdir()
    path = write_file(os.path.join(d, "prefixes.conf"),
                      'proxy_protocol = { from = [ "lb1.example" ]; };\n'
                      "access = {\n"
                      '  allow = [ "10.1.2.0/24" ];\n'
                      '  deny  = [ "10.1.2.0/24", "10.1.2.3/8",\n'
                      '            "10.1.2.0/24" ];\n'
                      "};\n")
    r = run_bin(["-c", path, "--check-config"])
    diag("bad prefixes: exit %d: %s" % (r.returncode, r.stderr.strip()
                                        .replace("\n", " | ")))
    assert r.returncode == EX_CONFIG, "exit %d" % r.returncode
    want = ['%s:1: proxy_protocol.from: "lb1.example": not an IPv4 address'
            % path,
            '%s:4: access.deny: "10.1.2.3/8": host bits set: did you mean '
            "10.0.0.0/8?" % path,
            '%s:5: access.deny: "10.1.2.0/24": duplicate of "10.1.2.0/24" '
            "(line 4)" % path]
    assert r.stderr.splitlines() == want, "stderr %r, expected %r" % (
        r.stderr, want)


def test_bad_config_at_start_logs_every_error():
    d = tmpdir()
    path = write_file(os.path.join(d, "two-start.conf"), TWO_MISTAKES)
    r = run_bin(["-c", path, "--log-target=stderr"], timeout=10)
    assert r.returncode == EX_CONFIG, "exit %d" % r.returncode
    lines = r.stderr.splitlines()
    at = []
    for e in TWO_ERRORS:
        # an event may end with its fields: " [UPCASED_CONFIG=...]"
        hit = [i for i, l in enumerate(lines)
               if ": %s:%s" % (path, e) in l]
        assert hit, "no log line for %r in %r" % (e, r.stderr)
        at.append(hit[0])
    assert at == sorted(at), "not in file order: %r" % r.stderr


def test_check_config_huge_integer_names_the_setting():
    """A value beyond 32 bits (libconfig makes it a 64-bit integer) is
    reported like any other bad value: FILE:LINE: setting: ..."""
    d = tmpdir()
    failures = []
    for i, (text, line, subs) in enumerate([
            ("limits = { max_pending_output = 2147483648; };\n", 1,
             ["limits.max_pending_output", "2147483648"]),
            ("workers = 1;\nlimits = {\n  idle_timeout = 99999999999;\n};\n",
             3, ["limits.idle_timeout", "99999999999"]),
            ("tcp = { ports = [ 4294975304 ]; };\n", 1,
             ["tcp.ports", "4294975304"])]):
        path = write_file(os.path.join(d, "huge%d.conf" % i), text)
        r = run_bin(["-c", path, "-t"])
        diag("huge%d: exit %d: %s" % (i, r.returncode, r.stderr.strip()))
        probs = check_bad(path, r, line, None, subs)
        if probs:
            failures.append("huge%d (%r): %s" % (i, text, "; ".join(probs)))
    assert not failures, "\n".join(failures)


def test_missing_config_file():
    d = tmpdir()
    path = os.path.join(d, "does-not-exist.conf")
    r = run_bin(["-c", path, "-t"])
    diag("missing file: exit %d, stderr %r" % (r.returncode, r.stderr))
    assert r.returncode != 0, "a missing config file is accepted"
    assert path in r.stderr, "the error does not name the file"


def test_port_in_use_exits_71():
    # TCP port taken
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    harness.defer(busy.close)
    port = busy.getsockname()[1]
    d = Daemon(conf(tcp="[ %d ]" % port, udp="[ ]"), nports=0, ready=None)
    rc = d.wait_exit(10)
    diag("TCP port in use: exit %d; stderr: %s" % (
        rc, " | ".join(d.stderr_tail(3))))
    assert rc == EX_OSERR, "exit %d, expected %d" % (rc, EX_OSERR)
    assert d.stderr().strip(), "nothing on stderr"
    # UDP port taken
    ubusy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ubusy.bind(("127.0.0.1", 0))
    harness.defer(ubusy.close)
    uport = ubusy.getsockname()[1]
    d2 = Daemon(conf(tcp="[ ]", udp="[ %d ]" % uport), nports=0, ready=None)
    rc = d2.wait_exit(10)
    diag("UDP port in use: exit %d; stderr: %s" % (
        rc, " | ".join(d2.stderr_tail(3))))
    assert rc == EX_OSERR, "exit %d, expected %d" % (rc, EX_OSERR)


def test_sigterm_and_sigint_exit_0():
    for sig in (harness.signal.SIGTERM, harness.signal.SIGINT):
        d = Daemon(conf())
        tcp_echo(tcp_connect(d.port), b"before stop\n")
        rc = d.stop(sig=sig)
        assert rc == 0, "%s: exit status %d" % (sig.name, rc)
        diag("%s: exit 0 in %.1f ms" % (sig.name, d.stop_seconds * 1000))


LEVEL_RE = re.compile(r"\b(debug|info|notice|warn(ing)?|err(or)?|crit)\b",
                      re.I)


def traffic(d, n=3):
    for i in range(n):
        s = tcp_connect(d.port)
        tcp_echo(s, b"log test %d\n" % i)
        s.close()
    udp_exchange(d.port, b"log test udp")


def test_log_lines_have_levels_and_no_connection_noise_at_info():
    d = Daemon(conf(level="info"))
    time.sleep(0.2)
    before = d.stderr()
    traffic(d)
    time.sleep(0.5)
    after = d.stderr()
    new = after[len(before):]
    assert new == "", "info level logs per connection: %r" % new[:500]
    d.stop()
    text = d.stderr()
    lines = [l for l in text.splitlines() if l.strip()]
    assert lines, "nothing logged at all on stderr at info level"
    nolevel = [l for l in lines if not LEVEL_RE.search(l)]
    assert not nolevel, "lines without a level: %r" % nolevel[:5]
    diag("stderr at info level, start to stop:")
    for l in lines[:12]:
        diag("  " + l)


def test_debug_level_logs_connections():
    d = Daemon(conf(level="debug"))
    time.sleep(0.2)
    before = d.stderr()
    traffic(d)
    time.sleep(0.5)
    new = d.stderr()[len(before):]
    lines = [l for l in new.splitlines() if l.strip()]
    assert lines, "no log line for 3 connections at debug level"
    assert any(re.search(r"debug", l, re.I) for l in lines), \
        "no line marked debug: %r" % lines[:5]
    diag("debug lines for 3 connections: %d, e.g. %r" % (len(lines),
                                                           lines[0]))


if __name__ == "__main__":
    harness.run_tests(globals())
