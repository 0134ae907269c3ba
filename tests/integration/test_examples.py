#!/usr/bin/env python3
"""The Prometheus examples in doc/examples/ (prometheus.yml,
upcased.rules.yml, blackbox.yml), checked by the tools that will read
them: promtool (Debian's prometheus package) validates the rules and the
scrape configuration and runs the rules' unit tests
(tests/data/prometheus/), and the real blackbox exporter probes a real
daemon with the upcase_echo module.  Skipped where the tools are
missing."""

import os
import re
import shutil
import subprocess
import urllib.request

import harness
from harness import (Daemon, conf, defer, diag, alloc_ports, tmpdir,
                     write_file, Skip)

EXAMPLES = os.path.join(harness.SRCDIR, "doc", "examples")
RULES = os.path.join(EXAMPLES, "upcased.rules.yml")
PROMETHEUS_YML = os.path.join(EXAMPLES, "prometheus.yml")
BLACKBOX_YML = os.path.join(EXAMPLES, "blackbox.yml")
RULES_TEST = os.path.join(harness.SRCDIR, "tests", "data", "prometheus",
                          "upcased.rules.test.yml")
EXPORTER = "prometheus-blackbox-exporter"


def need(tool):
    path = shutil.which(tool)
    if path is None:
        raise Skip("%s is not installed (Debian: apt install %s)" %
                   (tool, "prometheus" if tool == "promtool" else tool))
    return path


def run(argv, timeout=30):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, errors="replace", timeout=timeout)
    diag("$ %s: exit %d" % (" ".join(argv), r.returncode))
    out = (r.stdout + r.stderr).strip()
    if out:
        diag(out)
    return r


def alert_names():
    with open(RULES) as f:
        return re.findall(r"^\s*- alert: (\w+)$", f.read(), re.M)


def test_promtool_check_rules():
    need("promtool")
    names = alert_names()
    assert sorted(names) == ["UpcasedDown", "UpcasedEchoFailing",
                             "UpcasedRefusingConnections",
                             "UpcasedReloadRefused"], names
    r = run(["promtool", "check", "rules", RULES])
    assert r.returncode == 0, "promtool check rules failed"
    assert "SUCCESS: %d rules found" % len(names) in r.stdout, r.stdout


def test_promtool_check_config():
    """prometheus.yml, with the rules it loads (its relative path)."""
    need("promtool")
    r = run(["promtool", "check", "config", PROMETHEUS_YML])
    assert r.returncode == 0, "promtool check config failed"
    assert "SUCCESS: 1 rule files found" in r.stdout, r.stdout
    assert "upcased.rules.yml" in r.stdout, r.stdout
    # the jobs the rules name are the jobs the configuration scrapes
    with open(PROMETHEUS_YML) as f:
        jobs = set(re.findall(r"^\s*- job_name: (\w+)$", f.read(), re.M))
    with open(RULES) as f:
        named = set(re.findall(r'job="(\w+)"', f.read()))
    assert named and named <= jobs, (named, jobs)


def test_scrape_target_is_the_shipped_endpoint():
    """The upcased job scrapes where etc/upcased.conf puts the endpoint."""
    with open(os.path.join(harness.SRCDIR, "etc", "upcased.conf")) as f:
        shipped = re.sub(r"#.*", "", f.read())
    block = re.search(r"^metrics\s*=\s*\{(.*?)\};", shipped, re.M | re.S)
    if not block:
        raise Skip("etc/upcased.conf has no metrics endpoint")
    ports = re.search(r"\bports\s*=\s*\[\s*(\d*)", block.group(1))
    bind = re.search(r'\bbind\s*=\s*\[?\s*"([^"]+)"', block.group(1))
    assert ports and bind, "cannot read metrics.ports and metrics.bind " \
        "in:\n" + block.group(0)
    if not ports.group(1):
        raise Skip("etc/upcased.conf has the metrics endpoint off")
    port, bind = ports.group(1), bind.group(1)
    diag("etc/upcased.conf: metrics on %s port %s" % (bind, port))
    with open(PROMETHEUS_YML) as f:
        text = f.read()
    job = re.search(r"- job_name: upcased\n(.*?)(?=\n  - job_name|\Z)",
                    text, re.S)
    assert job, "no upcased job in prometheus.yml"
    targets = re.findall(r"^\s*- ([\w.:\[\]-]+:\d+)$", job.group(1),
                         re.M)
    assert targets == ["%s:%s" % (bind, port)], targets


def test_promtool_rejects_a_broken_copy():
    """The checks can fail: a rule with a bad expression, and a
    configuration whose rules file is missing."""
    need("promtool")
    d = tmpdir()
    with open(RULES) as f:
        text = f.read()
    bad = text.replace('up{job="upcased"} == 0', 'up{job="upcased"} ==')
    assert bad != text
    r = run(["promtool", "check", "rules",
             write_file(os.path.join(d, "upcased.rules.yml"), bad)])
    assert r.returncode != 0, "promtool accepted a broken expression"
    shutil.copy(PROMETHEUS_YML, d)
    os.unlink(os.path.join(d, "upcased.rules.yml"))
    r = run(["promtool", "check", "config",
             os.path.join(d, "prometheus.yml")])
    assert r.returncode != 0, "promtool accepted a missing rules file"


def test_promtool_test_rules():
    """The alerts fire on the made-up series they are meant for, after
    their "for:", and on nothing else."""
    need("promtool")
    r = run(["promtool", "test", "rules", RULES_TEST])
    assert r.returncode == 0, "promtool test rules failed"
    assert "SUCCESS" in r.stdout, r.stdout


def test_blackbox_config_check():
    need(EXPORTER)
    r = run([EXPORTER, "--config.check", "--config.file=" + BLACKBOX_YML])
    assert r.returncode == 0, "the exporter rejects blackbox.yml"
    assert "Config file is ok" in r.stderr, r.stderr


def probe(port, target):
    url = ("http://127.0.0.1:%d/probe?module=upcase_echo&target=%s" %
           (port, target))
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    m = re.search(r"^probe_success (\S+)$", text, re.M)
    assert m, "no probe_success in:\n" + text
    diag("probe of %s: probe_success %s" % (target, m.group(1)))
    return m.group(1)


@harness.timeout(30)
def test_blackbox_probes_the_daemon():
    """The real exporter with blackbox.yml: 1 against upcased, 0 against
    a port that refuses and against one that answers but does not
    uppercase (the exporter's own HTTP port)."""
    need(EXPORTER)
    d = Daemon(conf(udp="[ ]"))
    port = alloc_ports(1)[0]
    log = os.path.join(tmpdir(), "exporter.log")
    with open(log, "w") as err:
        p = subprocess.Popen([EXPORTER, "--config.file=" + BLACKBOX_YML,
                              "--web.listen-address=127.0.0.1:%d" % port],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
    harness._procs.append(p)
    defer(lambda: diag(open(log).read()))
    if not harness.wait_for(lambda: harness.tcp_listening(port)
                            or p.poll() is not None, 10):
        raise AssertionError("the exporter does not listen on %d" % port)
    assert p.poll() is None, "the exporter exited %d" % p.returncode
    assert probe(port, "127.0.0.1:%d" % d.port) == "1"
    nobody = alloc_ports(1)[0]
    assert probe(port, "127.0.0.1:%d" % nobody) == "0"
    assert probe(port, "127.0.0.1:%d" % port) == "0"


if __name__ == "__main__":
    harness.run_tests(globals())
