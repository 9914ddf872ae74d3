"""One default error classifier (the engine's), consistent on every path, and a broken
classifier never answers a permit twice."""

from __future__ import annotations

import asyncio

import pytest

import tripgate


def kinds(b: tripgate.CircuitBreaker) -> dict[str, int]:
    return {k: v for k, v in b.metrics().failures_by_kind.items() if v}


@pytest.mark.parametrize(
    "exc, kind",
    [
        (TimeoutError(), "timeout"),
        (asyncio.TimeoutError(), "timeout"),
        (ConnectionResetError(), "connection"),
        (ConnectionRefusedError(), "connection"),
        (ValueError(), "other"),
    ],
)
def test_every_path_classifies_alike(exc, kind):
    def boom():
        raise exc

    b = tripgate.CircuitBreaker(fail_max=100)
    with pytest.raises(type(exc)):
        b.call(boom)
    with pytest.raises(type(exc)):
        b(boom)()
    with pytest.raises(type(exc)):
        with b:
            boom()
    with pytest.raises(type(exc)):
        with b.acquire():
            boom()
    # The extension's own default (a bare engine breaker) agrees with the package's.
    raw = tripgate._core.Breaker()
    with pytest.raises(type(exc)):
        raw.call(boom)
    assert kinds(b) == {kind: 4}
    assert {k: v for k, v in raw._snapshot()["failures_by_kind"].items() if v} == {kind: 1}


class BadCode(tripgate.CircuitBreaker):
    def _classify_error(self, exc: BaseException) -> int:
        return 99


def test_an_invalid_classifier_code_releases_the_probe_once(capsys):
    clock = tripgate.ManualClock()
    b = BadCode(fail_max=1, reset_timeout=1, half_open_permits=1, clock=clock)
    b.force_open()
    b.reset()
    b.acquire().failure()  # trips
    clock.advance(1)
    unraisable: list[object] = []
    import sys

    old, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with pytest.raises(KeyError):
            b.call(lambda: {}["x"])  # the probe; its classifier answers 99
    finally:
        sys.unraisablehook = old
    assert len(unraisable) == 1 and "invalid outcome code 99" in str(unraisable[0].exc_value)  # type: ignore[attr-defined]
    m = b.metrics()
    assert m.abandoned == 1  # released once, not twice
    # One probe slot: one permit is admitted, the next is rejected.
    p = b.acquire()
    with pytest.raises(tripgate.CircuitBreakerError):
        b.acquire()
    p.success()
    assert b.state == "closed"


def test_an_invalid_classify_hook_answer_is_a_clear_error():
    b = tripgate.CircuitBreaker(classify=lambda exc, result: "maybe")
    with pytest.raises(ValueError, match="returned 'maybe': allowed None, 'success'"):
        b.call(lambda: 1)
    assert b.metrics().abandoned == 1 and b.metrics().calls == 0
