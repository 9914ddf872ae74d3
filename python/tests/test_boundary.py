"""Every number a user passes is taken exactly or refused with a ValueError/TypeError
naming the option and the allowed range: no PanicException, no silent clamp."""

from __future__ import annotations

import datetime
import math

import pytest

import tripgate

HUGE_OR_INVALID = [1e20, 10**400, -1, -0.5, math.nan, math.inf, -math.inf, "soon", "-5s"]


@pytest.mark.parametrize("bad", HUGE_OR_INVALID)
def test_permit_latency_is_refused_by_name(bad):
    b = tripgate.CircuitBreaker(fail_max=5)
    permit = b.acquire()
    with pytest.raises(ValueError, match=r"invalid latency = .*: allowed"):
        permit.success(latency=bad)
    with pytest.raises(ValueError, match=r"invalid latency"):
        permit.failure("timeout", latency=bad)
    assert not permit.done  # refused before anything was recorded
    permit.success(latency=0.25)
    assert b.metrics().successes == 1


@pytest.mark.parametrize("bad", [10**400, -1, math.nan, math.inf, "soon"])
def test_manual_clock_advance_is_refused_by_name(bad):
    clock = tripgate.ManualClock()
    with pytest.raises(ValueError, match=r"invalid seconds = .*: allowed"):
        clock.advance(bad)
    assert clock.now_nanos == 0


def test_manual_clock_refuses_to_run_past_its_range():
    clock = tripgate.ManualClock()
    clock.advance(1e10)  # ~317 years: representable
    with pytest.raises(ValueError, match="invalid seconds"):
        clock.advance(1e10)  # past u64 nanoseconds
    with pytest.raises(ValueError, match="invalid nanos"):
        clock.advance_nanos(2**64 - 1)
    assert clock.now_nanos == 10**19


@pytest.mark.parametrize(
    "given, nanos",
    [
        (2, 2 * 10**9),
        (0.25, 250_000_000),
        ("250ms", 250_000_000),
        ("1m30s", 90 * 10**9),
        (datetime.timedelta(days=1, microseconds=3), 86_400 * 10**9 + 3_000),
    ],
)
def test_durations_are_taken_exactly_in_every_form(given, nanos):
    clock = tripgate.ManualClock()
    clock.advance(given)
    assert clock.now_nanos == nanos


@pytest.mark.parametrize("bad", [True, None, [1], b"1s"])
def test_a_duration_of_the_wrong_type_is_a_type_error(bad):
    with pytest.raises(TypeError, match="seconds must be a duration"):
        tripgate.ManualClock().advance(bad)


@pytest.mark.parametrize("option", ["reset_timeout", "slow_call_duration", "half_open_max_wait", "backoff_decay"])
@pytest.mark.parametrize("bad", [10**400, 1e20, -1, math.nan, math.inf, "-1s", "forever"])
def test_duration_options_are_refused_by_name(option, bad):
    with pytest.raises(ValueError, match=rf"invalid {option} = .*: allowed"):
        tripgate.CircuitBreaker(**{option: bad})


@pytest.mark.parametrize("bad", [(math.nan, 1), (1, math.inf), (-1, 1)])
def test_anti_thrash_nan_is_refused_not_zero(bad):
    with pytest.raises(ValueError, match=r"invalid anti_thrash = .*: allowed"):
        tripgate.CircuitBreaker(anti_thrash=bad)


@pytest.mark.parametrize(
    "option, bad",
    [
        ("fail_max", 10**400),
        ("fail_max", -3),
        ("minimum_calls", 2**32),
        ("failure_rate_threshold", math.nan),
        ("failure_rate_threshold", 10**400),
        ("jitter", math.inf),
        ("backoff_multiplier", -1.0),
        ("histogram_precision", 300),
    ],
)
def test_count_and_rate_options_are_refused_by_name_with_the_value_given(option, bad):
    with pytest.raises(tripgate.ConfigError, match=rf"invalid {option} = {bad!r}: allowed") as e:
        tripgate.CircuitBreaker(**{option: bad})
    assert e.value.option == option


@pytest.mark.parametrize(
    "given, seconds",
    [(30, 30.0), (2.5, 2.5), ("250ms", 0.25), ("1m30s", 90.0), (datetime.timedelta(minutes=2), 120.0)],
)
def test_duration_options_take_every_form_exactly(given, seconds):
    clock = tripgate.ManualClock()
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=given, clock=clock)
    with pytest.raises(RuntimeError):
        b.call(lambda: (_ for _ in ()).throw(RuntimeError()))
    assert b.retry_after == pytest.approx(seconds)


def test_reconfigure_refuses_by_name_too():
    b = tripgate.CircuitBreaker(fail_max=3)
    with pytest.raises(ValueError, match=r"invalid reset_timeout = 1e\+20"):
        b.reconfigure(reset_timeout=1e20)
    with pytest.raises(TypeError, match="unknown option fail_mx"):
        b.reconfigure(fail_mx=3)
