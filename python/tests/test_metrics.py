"""metrics(): every figure of the engine's snapshot."""

from __future__ import annotations

import dataclasses
import json

import pytest

import tripgate
from conftest import Boom, fail


def test_every_snapshot_figure_is_there(clock):
    b = tripgate.CircuitBreaker(fail_max=3, track_in_flight=True, exclude=[KeyError], clock=clock)
    clock.advance(100)
    for ms in range(1, 101):
        b.acquire().success(latency=ms / 1000)
    held = b.acquire()
    with pytest.raises(Boom):
        b.call(fail)
    with pytest.raises(KeyError):
        b.call(fail, KeyError())
    b.acquire().release()
    clock.advance(2)
    m = b.metrics()
    assert isinstance(m, tripgate.Metrics)
    assert m.state == "closed" and m.generation == 0 and m.transitions == 0
    assert m.time_in_state == pytest.approx(102)
    assert (m.calls, m.successes, m.failures, m.ignored, m.abandoned) == (101, 100, 1, 1, 1)
    assert m.failures_by_kind["other"] == 1
    assert m.in_flight == 1
    assert m.rejected == 0 and m.slow_calls == 0 and m.half_open_probes == 0
    assert m.window_calls == 101
    assert m.failure_rate == pytest.approx(1 / 101)
    assert m.slow_call_rate == 0
    assert m.consecutive_failures == 1
    assert m.last_failure == pytest.approx(100)  # manual clock: seconds since its origin
    assert m.retry_after is None and m.backoff_level == 0 and m.listener_panics == 0
    lat = m.latency
    assert lat is not None and lat.count == 101
    # Percentiles in seconds, within the histogram's 3.2% relative error.
    assert lat.p50 == pytest.approx(0.050, rel=0.04)
    assert lat.p90 == pytest.approx(0.090, rel=0.04)
    assert lat.p99 == pytest.approx(0.099, rel=0.04)
    assert lat.max == pytest.approx(0.100, rel=0.04)
    assert 0 < lat.p50 <= lat.p95 <= lat.p999 <= lat.max
    # Lifetime sums by kind: 1 + 2 + ... + 100 ms of successes; the failure and the
    # ignored call took no time on the manual clock.
    assert m.call_durations == pytest.approx({"successful": 5.05, "failed": 0.0, "ignored": 0.0})
    d = m.as_dict()
    assert {f.name for f in dataclasses.fields(m)} == set(d)
    json.dumps(d)
    held.success()


def test_latency_is_none_without_tracking(clock):
    b = tripgate.CircuitBreaker(track_latency=False, clock=clock)
    b.call(lambda: None)
    m = b.metrics()
    assert m.latency is None and m.in_flight is None
    assert m.call_durations is None


def test_open_metrics(clock):
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=10, clock=clock)
    with pytest.raises(Boom):
        b.call(fail)
    clock.advance(4)
    m = b.metrics()
    assert m.state == "open" and m.transitions == 1 and m.generation == 1
    assert m.retry_after == pytest.approx(6)
    assert m.time_in_state == pytest.approx(4)
