#!/usr/bin/env python3
"""Plain TCP through the real balancers: HAProxy (tcp-check health
checks that send a line and expect it uppercased) and nginx stream.

Run by tests/balancer/run.sh inside the client namespace.  Each case
prints "# FIGURE scenario | figure | bound" and asserts its bound.
"""

import balancer
import harness
from balancer import A, figure

SESSIONS = 60


def payload(n):
    # 40 bytes: the backends' debug lines tell these from health checks
    return (b"plain session %05d through the balancer" % n)[:39] + b"\n"


def start_backends():
    return [balancer.backend(i, balancer.backend_conf(i))
            for i in range(3)]


def spread(port, ha=None, nginx=False):
    ds = start_backends()
    if ha is not None:
        t_up = balancer.wait_backends_up(ha, port)
        harness.diag("haproxy: all three UP %.2f s after the backends "
                     "started" % t_up)
        before = ha.sessions(port)
    errors = []
    for n in range(SESSIONS):
        e = balancer.session(A, port, payload(n))
        if e:
            errors.append("session %d: %s" % (n, e))
    per = [len(balancer.closed_sessions(d, peer=balancer.LB, bytes_out=40))
           for d in ds]
    if ha is not None:
        after = ha.sessions(port)
        harness.diag("haproxy stot per server: %r" %
                     [a - b for a, b in zip(after, before)])
    return errors, per


@harness.timeout(40)
def test_haproxy_plain():
    """60 short sessions through HAProxy's plain section: all answered,
    and every backend (all UP by their tcp-check) served some."""
    balancer.in_suite()
    ha = balancer.balancer("haproxy")
    errors, per = spread(balancer.HA_PLAIN, ha=ha)
    figure("0a haproxy plain TCP",
           "%d/%d sessions answered; per backend %s" %
           (SESSIONS - len(errors), SESSIONS, "/".join(map(str, per))),
           "all; each backend > 0")
    assert not errors, errors[:5]
    assert sum(per) == SESSIONS and min(per) > 0, per


@harness.timeout(40)
def test_nginx_plain():
    """60 short sessions through nginx stream: all answered, every
    backend served some."""
    balancer.in_suite()
    ng = balancer.balancer("nginx")
    errors, per = spread(balancer.NG_PLAIN, nginx=True)
    if errors:
        harness.diag("nginx log tail:\n" + "\n".join(ng.log_tail()))
    figure("0b nginx plain TCP",
           "%d/%d sessions answered; per backend %s" %
           (SESSIONS - len(errors), SESSIONS, "/".join(map(str, per))),
           "all; each backend > 0")
    assert not errors, errors[:5]
    assert sum(per) == SESSIONS and min(per) > 0, per


if __name__ == "__main__":
    harness.run_tests(globals())
