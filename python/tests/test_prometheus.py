"""tripgate.prometheus: the collector parsed back by prometheus_client's real parser,
and the health reports, with the Rust tripgate-ops crate's names and rules."""

from __future__ import annotations

import pytest

import tripgate
from conftest import Boom, fail
from tripgate.prometheus import TripgateCollector, liveness, readiness, state_value

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def breakers(clock: tripgate.ManualClock) -> dict[str, tripgate.CircuitBreaker]:
    db = tripgate.CircuitBreaker(fail_max=2, reset_timeout=30, clock=clock, name="database")
    for ms in (3, 5, 8, 13, 21):
        db.acquire().success(latency=ms / 1000)
    api = tripgate.CircuitBreaker(fail_max=2, reset_timeout=30, clock=clock, name='external "api"')
    for _ in range(2):
        with pytest.raises(Boom):
            api.call(fail)
    with pytest.raises(tripgate.CircuitBreakerError):
        api.call(lambda: None)
    cache = tripgate.CircuitBreaker(track_latency=False, clock=clock, name="cache")
    cache.force_open()
    return {"database": db, 'external "api"': api, "cache": cache}


def scrape(collector: TripgateCollector) -> dict[str, object]:
    registry = prometheus_client.CollectorRegistry()
    registry.register(collector)
    text = prometheus_client.generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families, name, **labels):
    for fam in families.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError(f"no sample {name} {labels}")


def test_collector_output_parses_with_the_ops_names(clock):
    b = breakers(clock)
    fams = scrape(TripgateCollector(b, critical={"database"}))
    expected = {
        "tripgate_breaker_state": "gauge",
        "tripgate_breaker_state_info": "gauge",
        "tripgate_breaker_critical": "gauge",
        "tripgate_calls": "counter",
        "tripgate_failures": "counter",
        "tripgate_slow_calls": "counter",
        "tripgate_rejected_calls": "counter",
        "tripgate_transitions": "counter",
        "tripgate_listener_panics": "counter",
        "tripgate_state_duration_seconds": "gauge",
        "tripgate_failure_rate": "gauge",
        "tripgate_slow_call_rate": "gauge",
        "tripgate_window_calls": "gauge",
        "tripgate_consecutive_failures": "gauge",
        "tripgate_half_open_probes": "gauge",
        "tripgate_backoff_level": "gauge",
        "tripgate_retry_after_seconds": "gauge",
        "tripgate_call_latency_seconds": "summary",
    }
    assert {n: f.type for n, f in fams.items()} == expected
    assert value(fams, "tripgate_breaker_state", service="database") == 0
    assert value(fams, "tripgate_breaker_state", service='external "api"') == 2
    assert value(fams, "tripgate_breaker_state", service="cache") == 2
    assert value(fams, "tripgate_breaker_state_info", service="cache", state="forced_open") == 1
    assert value(fams, "tripgate_breaker_critical", service="database") == 1
    assert value(fams, "tripgate_calls_total", service="database", outcome="success") == 5
    assert value(fams, "tripgate_failures_total", service='external "api"', kind="other") == 2
    assert value(fams, "tripgate_rejected_calls_total", service='external "api"') == 1
    assert value(fams, "tripgate_retry_after_seconds", service='external "api"') == pytest.approx(30)
    p50 = value(fams, "tripgate_call_latency_seconds", service="database", quantile="0.5")
    assert p50 == pytest.approx(0.008, rel=0.04)
    assert value(fams, "tripgate_call_latency_seconds_count", service="database") == 5
    quantiles = {
        s.labels["quantile"]
        for s in fams["tripgate_call_latency_seconds"].samples
        if "quantile" in s.labels and s.labels["service"] == "database"
    }
    assert quantiles == {"0.5", "0.9", "0.95", "0.99", "0.999"}
    # No latency series for a breaker without latency tracking.
    assert all(s.labels["service"] != "cache" for s in fams["tripgate_call_latency_seconds"].samples)


def test_collector_reads_a_callable_at_every_scrape(clock):
    current: dict[str, tripgate.CircuitBreaker] = {}
    collector = TripgateCollector(lambda: current)
    assert all(not f.samples for f in scrape(collector).values())
    current["late"] = tripgate.CircuitBreaker(clock=clock)
    assert value(scrape(collector), "tripgate_breaker_state", service="late") == 0


def test_readiness_flips_at_half_open_and_for_critical(clock):
    b = {name: tripgate.CircuitBreaker(fail_max=1, clock=clock) for name in ("a", "b", "c", "d")}
    assert readiness(b)["status_code"] == 200
    b["a"].force_open()
    one = readiness(b)
    assert one["status_code"] == 200
    assert one["body"]["services"]["a"]["status"] == "unhealthy"
    with pytest.raises(Boom):
        b["b"].call(fail)
    two = readiness(b)
    assert two["status_code"] == 503 and two["body"]["ready"] is False
    assert two["body"]["circuit_breakers"] == {
        "total": 4,
        "open": 2,
        "open_percentage": 50.0,
        "unready_at_percentage": 50.0,
    }
    b["b"].reset()
    assert readiness(b)["status_code"] == 200
    crit = readiness(b, critical={"a"})
    assert crit["status_code"] == 503 and "a" in crit["body"]["reason"]
    assert readiness(b, critical={"a"}, critical_opens_fail=False)["status_code"] == 200
    assert readiness({})["status_code"] == 200
    assert liveness() == {"status_code": 200, "body": {"status": "alive"}}
    assert [state_value(s) for s in ("closed", "half_open", "open")] == [0, 1, 2]
