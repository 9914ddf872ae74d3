"""Transitions, driven by the manual clock."""

from __future__ import annotations

import pickle

import pytest

import tripgate
from conftest import Boom, fail, ok


def trip(b: tripgate.CircuitBreaker, n: int) -> None:
    for _ in range(n):
        with pytest.raises(Boom):
            b.call(fail)


def test_fail_max_trips_and_reset_timeout_admits_a_probe(clock):
    b = tripgate.CircuitBreaker(fail_max=3, reset_timeout=10, name="db", clock=clock)
    assert b.state == "closed" == tripgate.State.CLOSED
    trip(b, 2)
    assert b.state == "closed"
    assert b.fail_counter == 2
    # The call whose failure trips the breaker gets its own error.
    trip(b, 1)
    assert b.state == "open"
    with pytest.raises(tripgate.CircuitBreakerError) as e:
        b.call(ok)
    err = e.value
    assert isinstance(err, tripgate.CircuitOpenError)
    assert err.name == "db" and err.state == "open"
    assert err.retry_after == pytest.approx(10.0)
    assert "db" in str(err) and "open" in str(err)
    clock.advance(9.999)
    assert b.retry_after == pytest.approx(0.001, abs=1e-6)
    with pytest.raises(tripgate.CircuitBreakerError):
        b.call(ok)
    # The deadline itself admits.
    clock.advance(0.001)
    assert b.call(ok, 7) == 7
    assert b.state == "closed"


def test_fail_max_none_keeps_the_rate_rule(clock):
    b = tripgate.CircuitBreaker(fail_max=None, clock=clock)
    assert b.config["consecutive_failures"] is None
    assert b.config["failure_rate_threshold"] == 0.5


def test_success_resets_the_streak(clock):
    b = tripgate.CircuitBreaker(fail_max=2, clock=clock)
    for _ in range(5):
        trip(b, 1)
        b.call(ok)
    assert b.state == "closed"


def test_fail_max_alone_switches_the_rate_rule_off(clock):
    b = tripgate.CircuitBreaker(fail_max=100, minimum_calls=1, clock=clock)
    assert b.config["failure_rate_threshold"] is None
    for _ in range(20):
        trip(b, 1)
        b.call(ok)
    assert b.state == "closed"


def test_failed_probe_reopens_and_success_threshold_closes(clock):
    b = tripgate.CircuitBreaker(
        fail_max=1, reset_timeout=5, success_threshold=2, half_open_permits=2, clock=clock
    )
    trip(b, 1)
    clock.advance(5)
    p1 = b.acquire()
    assert p1.is_probe and b.state == "half_open"
    p2 = b.acquire()
    with pytest.raises(tripgate.CircuitBreakerError) as e:
        b.acquire()
    assert e.value.state == "half_open"
    p1.success()
    assert b.state == "half_open"
    p2.failure("timeout")
    assert b.state == "open"
    clock.advance(5)
    b.call(ok)
    assert b.state == "half_open"
    b.call(ok)
    assert b.state == "closed"


def test_failure_rate_over_a_count_window(clock):
    b = tripgate.CircuitBreaker(
        failure_rate_threshold=0.5, minimum_calls=4, window_size=10, clock=clock
    )
    b.call(ok)
    b.call(ok)
    trip(b, 1)
    assert b.state == "closed"
    trip(b, 1)  # 2 of 4: exactly at the threshold trips
    assert b.state == "open"


def test_time_window_decays(clock):
    b = tripgate.CircuitBreaker(
        failure_rate_threshold=0.5, minimum_calls=4, window_duration=10, window_buckets=10, clock=clock
    )
    trip(b, 3)
    clock.advance(11)
    assert b.metrics().window_calls == 0
    b.call(ok)
    b.call(ok)
    b.call(ok)
    trip(b, 1)
    assert b.state == "closed"


def test_failure_weights(clock):
    b = tripgate.CircuitBreaker(
        failure_rate_threshold=0.5,
        minimum_calls=4,
        window_size=4,
        failure_weights={"timeout": 2.0, tripgate.FailureKind.OTHER: 0.0},
        clock=clock,
    )
    for _ in range(3):
        b.call(ok)
    trip(b, 1)  # weight 0
    assert b.state == "closed"
    with pytest.raises(TimeoutError):
        b.call(fail, TimeoutError())
    # window: ok, ok, other(0), timeout(2) -> 2/4 = 50%
    assert b.state == "open"


def test_slow_calls_trip(clock):
    b = tripgate.CircuitBreaker(
        failure_rate_threshold=None,
        slow_call_duration=0.1,
        slow_call_rate_threshold=0.5,
        minimum_calls=2,
        window_size=10,
        clock=clock,
    )

    def slow() -> None:
        clock.advance(0.1)

    b.call(ok)
    b.call(slow)
    assert b.state == "open"
    assert b.metrics().slow_calls == 1


def test_latency_percentile_trips(clock):
    b = tripgate.CircuitBreaker(
        failure_rate_threshold=None, latency_percentile=("p99", 0.05), minimum_calls=3, window_size=10, clock=clock
    )
    for _ in range(2):
        b.acquire().success(latency=0.2)
    assert b.state == "closed"
    b.acquire().success(latency=0.2)
    assert b.state == "open"


def test_backoff_grows_and_caps(clock):
    b = tripgate.CircuitBreaker(
        fail_max=1, reset_timeout=1, backoff_multiplier=2, max_reset_timeout=3, clock=clock
    )
    trip(b, 1)
    assert b.retry_after == pytest.approx(1)
    for expected in (2, 3, 3):
        clock.advance(b.retry_after or 0)
        trip(b, 1)  # failed probe re-trips
        assert b.state == "open"
        assert b.retry_after == pytest.approx(expected)
    assert b.metrics().backoff_level >= 2


def test_jitter_spreads_open_duration(clock):
    seen = set()
    for seed in range(8):
        b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=10, jitter=0.5, seed=seed, clock=clock)
        trip(b, 1)
        ra = b.retry_after
        assert ra is not None and 10 <= ra <= 15
        seen.add(round(ra, 6))
    assert len(seen) > 1


def test_slow_start_ramps_admission(clock):
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=1, slow_start=(0.5, 10), clock=clock)
    trip(b, 1)
    clock.advance(1)
    b.call(ok)
    assert b.state == "closed"
    admitted = 0
    for _ in range(200):
        try:
            b.call(ok)
            admitted += 1
        except tripgate.CircuitBreakerError as e:
            assert e.state == "closed"
    assert 60 < admitted < 140
    clock.advance(10)
    for _ in range(50):
        b.call(ok)


def test_manual_control(clock):
    b = tripgate.CircuitBreaker(fail_max=1, clock=clock)
    b.force_open()
    assert b.state == "forced_open"
    with pytest.raises(tripgate.CircuitBreakerError) as e:
        b.call(ok)
    assert e.value.retry_after is None and e.value.state == "forced_open"
    b.force_closed()
    trip(b, 5)
    assert b.state == "forced_closed"
    b.metrics_only()
    trip(b, 2)
    assert b.state == "metrics_only"
    before = b.metrics().calls
    b.disable()
    trip(b, 2)
    assert b.metrics().calls == before
    b.reset()
    assert b.state == "closed" and b.fail_counter == 0
    assert b.current_state == "closed"


def test_error_pickles():
    e = tripgate.CircuitBreakerError("x is open", "x", "open", 1.5)
    e2 = pickle.loads(pickle.dumps(e))
    assert (str(e2), e2.name, e2.state, e2.retry_after) == ("x is open", "x", "open", 1.5)


def test_tiers():
    assert tripgate.CircuitBreaker(tier="critical").config["minimum_calls"] == 20
    assert tripgate.CircuitBreaker(tier="non_critical").config["failure_rate_threshold"] == 0.7
    assert tripgate.CircuitBreaker().config["failure_rate_threshold"] == 0.5


def test_adaptive_threshold_is_lenient_at_low_volume(clock):
    b = tripgate.CircuitBreaker(
        failure_rate_threshold=0.5, minimum_calls=10, window_size=10, adaptive_threshold=True, clock=clock
    )
    for i in range(10):
        if i % 2:
            b.call(ok)
        else:
            trip(b, 1)
    # 50% of 10 calls would trip the fixed threshold; low volume makes it 0.6.
    assert b.state == "closed"
    assert b.metrics().effective_failure_rate_threshold == pytest.approx(0.6)
    assert b.config["adaptive_threshold"]["low_volume_factor"] == pytest.approx(1.2)
    with pytest.raises(TypeError, match="adaptive_threshold"):
        tripgate.CircuitBreaker(adaptive_threshold=3, clock=clock)


def test_anti_thrash_lengthens_openings_and_reports_flapping(clock):
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=1, anti_thrash=(30, 5), clock=clock)
    trip(b, 1)
    assert b.state == "open"
    m = b.metrics()
    assert m.retry_after == pytest.approx(5.0)
    assert m.transitions_last_minute == 1
    with pytest.raises(TypeError, match="anti_thrash"):
        tripgate.CircuitBreaker(anti_thrash=5, clock=clock)


def test_enum_names_are_the_engines_tables() -> None:
    from tripgate import _core

    assert tuple(s.value for s in tripgate.State) == _core.STATES
    assert _core.STATES[2] == "half_open"
    assert tuple(k.value for k in tripgate.FailureKind) == _core.FAILURE_KINDS
    assert _core.REASONS[8:] == ("manual", "manual_open", "manual_half_open", "manual_close")
    assert tripgate.Outcome.TIMEOUT == tripgate.FailureKind.TIMEOUT
