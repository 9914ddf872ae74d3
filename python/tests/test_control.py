"""Manual control (open, open_for, open_until, half_open, close) and initial_state,
driven by the manual clock."""

from __future__ import annotations

import datetime

import pytest

import tripgate
from conftest import Boom, fail, ok


def transitions(b: tripgate.CircuitBreaker) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    b.add_listener(lambda t: seen.append((t.from_state, t.to_state, t.reason)))
    return seen


def test_open_opens_for_reset_timeout_then_probes(clock):
    b = tripgate.CircuitBreaker(fail_max=3, reset_timeout=10, clock=clock)
    seen = transitions(b)
    b.open()
    assert b.state == "open"
    assert b.retry_after == pytest.approx(10.0)
    with pytest.raises(tripgate.CircuitBreakerError):
        b.call(ok)
    # Already open: nothing changes, no new opening.
    clock.advance(4)
    b.open()
    assert b.retry_after == pytest.approx(6.0)
    clock.advance(6)
    assert b.call(ok, 1) == 1
    assert b.state == "closed"
    assert [s[:2] for s in seen] == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert seen[0][2] == "manual_open"


@pytest.mark.parametrize(
    "duration, seconds",
    [(2, 2.0), (0.25, 0.25), ("250ms", 0.25), ("1m30s", 90.0), (datetime.timedelta(milliseconds=1500), 1.5)],
)
def test_open_for_takes_every_duration_form(clock, duration, seconds):
    b = tripgate.CircuitBreaker(fail_max=3, reset_timeout=10, clock=clock)
    b.open_for(duration)
    assert b.state == "open"
    assert b.retry_after == pytest.approx(seconds)
    clock.advance(seconds - 0.001)
    with pytest.raises(tripgate.CircuitBreakerError):
        b.call(ok)
    clock.advance(0.001)
    assert b.call(ok, 2) == 2


def test_open_for_restarts_an_opening(clock):
    b = tripgate.CircuitBreaker(fail_max=3, reset_timeout=10, clock=clock)
    b.open()
    b.open_for(60)
    assert b.retry_after == pytest.approx(60.0)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (float("nan"), ValueError), ("soon", ValueError), (True, TypeError), (None, TypeError)])
def test_open_for_refuses_bad_durations_by_name(clock, bad, error):
    b = tripgate.CircuitBreaker(fail_max=3, clock=clock)
    with pytest.raises(error, match="duration"):
        b.open_for(bad)
    assert b.state == "closed"


def test_open_until_is_a_reading_of_the_breakers_clock(clock):
    clock.advance(100)
    b = tripgate.CircuitBreaker(fail_max=3, reset_timeout=10, clock=clock)
    assert b.clock_now == clock.now == 100.0
    b.open_until(clock.now + 5)
    assert b.state == "open"
    assert b.retry_after == pytest.approx(5.0)
    clock.advance(4.999)
    with pytest.raises(tripgate.CircuitBreakerError):
        b.call(ok)
    clock.advance(0.001)
    assert b.call(ok, 3) == 3
    # A deadline already past admits the next call as a probe.
    b.open_until(50)
    assert b.state == "open"
    assert b.call(ok, 4) == 4
    assert b.state == "closed"
    with pytest.raises(ValueError, match="deadline"):
        b.open_until(-1)


def test_system_clock_reading_moves_forward():
    b = tripgate.CircuitBreaker(fail_max=3)
    first = b.clock_now
    assert first >= 0
    assert b.clock_now >= first


def test_half_open_then_close(clock):
    b = tripgate.CircuitBreaker(fail_max=3, success_threshold=2, clock=clock)
    seen = transitions(b)
    b.half_open()
    assert b.state == "half_open"
    b.half_open()  # already half-open: no transition
    assert b.call(ok) == 42
    assert b.state == "half_open"
    assert b.metrics().half_open_successes == 1
    assert b.call(ok) == 42
    assert b.state == "closed"
    assert b.metrics().half_open_successes == 0
    b.half_open()
    with pytest.raises(Boom):
        b.call(fail)
    assert b.state == "open"
    b.close()
    assert b.state == "closed"
    b.close()  # already closed: no transition
    assert [s[:2] for s in seen] == [
        ("closed", "half_open"),
        ("half_open", "closed"),
        ("closed", "half_open"),
        ("half_open", "open"),
        ("open", "closed"),
    ]
    assert seen[0][2] == "manual_half_open" and seen[-1][2] == "manual_close"


def test_close_leaves_a_forced_state(clock):
    b = tripgate.CircuitBreaker(fail_max=1, clock=clock)
    b.force_open()
    b.close()
    assert b.state == "closed"
    assert b.call(ok) == 42


@pytest.mark.parametrize("state", list(tripgate.State))
def test_initial_state(clock, state):
    b = tripgate.CircuitBreaker(fail_max=3, reset_timeout=10, initial_state=state, clock=clock)
    assert b.state == state
    assert b.config["initial_state"] == str(state)
    if state in ("open", "forced_open"):
        with pytest.raises(tripgate.CircuitBreakerError):
            b.call(ok)
    else:
        assert b.call(ok) == 42
    if state == "open":
        clock.advance(10)
        assert b.call(ok) == 42
        assert b.state == "closed"


def test_initial_state_is_checked_and_construction_only(clock):
    with pytest.raises(ValueError, match=r"initial_state.*half_open"):
        tripgate.CircuitBreaker(initial_state="half-open")
    with pytest.raises(TypeError, match="initial_state"):
        tripgate.CircuitBreaker(initial_state=1)  # type: ignore[typeddict-item]
    b = tripgate.CircuitBreaker(fail_max=3, clock=clock)
    with pytest.raises(TypeError, match="construction"):
        b.reconfigure(initial_state="open")
    assert b.state == "closed"
