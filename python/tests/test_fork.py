"""A forked child's breakers on the system clock: the upkeep thread that refreshes the
cached time stays in the parent, and the module's fork hook clears and restarts it in
the child. Real time (the system clock is the subject), a quarter of a second."""

from __future__ import annotations

import os
import time

import pytest

import tripgate
from conftest import Boom, fail

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")


def wait_for_child(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_childs_breaker_leaves_open_when_its_open_duration_is_over():
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=0.2)
    with pytest.raises(Boom):
        b.call(fail)
    assert b.state == "open"
    pid = os.fork()
    if pid == 0:
        # The child: exit codes tell the parent what it saw (no pytest here).
        code = 0
        try:
            time.sleep(0.25)
            # Were the cached time frozen at the fork, the breaker would stay open
            # for ever (the deadline is further than a coarse read is ever trusted).
            if b.call(lambda: "probe") != "probe" or b.state != "closed":
                code = 2
        except tripgate.CircuitBreakerError:
            code = 1
        except BaseException:
            code = 3
        os._exit(code)
    assert wait_for_child(pid) == 0, "1: still open in the child"
    # The parent's own clock was never disturbed (the wait was longer than 0.2 s).
    assert b.call(lambda: "probe") == "probe"
    assert b.state == "closed"
