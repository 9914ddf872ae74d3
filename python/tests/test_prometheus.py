"""tripgate.prometheus: the collector parsed back by prometheus_client's real parser,
and the health reports, with the Rust tripgate-ops crate's names and rules."""

from __future__ import annotations

import pytest

import tripgate
import tripgate.prometheus
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


def value(families, sample, **labels):
    for fam in families.values():
        for s in fam.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError(f"no sample {sample} {labels}")


def families_of(text: str) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def test_collector_output_parses_with_the_ops_names(clock):
    b = breakers(clock)
    fams = scrape(TripgateCollector(b, critical={"database"}))
    # The families are tripgate-ops' own (ops/tests/check_exposition.py checks each one),
    # handed through prometheus_client unchanged.
    assert {n: f.type for n, f in fams.items()} == families_of(tripgate.prometheus.render(b))
    assert fams["tripgate_circuitbreaker_state"].type == "gauge"
    assert fams["tripgate_circuitbreaker_transitions"].type == "counter"
    api = 'external "api"'
    assert value(fams, "tripgate_breaker_state", name="database") == 0
    assert value(fams, "tripgate_breaker_state", name=api) == 2
    assert value(fams, "tripgate_breaker_state", name="cache") == 2
    assert value(fams, "tripgate_circuitbreaker_state", name="cache", state="forced_open") == 1
    assert value(fams, "tripgate_circuitbreaker_state", name="cache", state="open") == 0
    assert value(fams, "tripgate_breaker_critical", name="database") == 1
    assert value(fams, "tripgate_breaker_critical", name=api) == 0
    assert value(fams, "tripgate_calls_total", name="database", outcome="success") == 5
    assert value(fams, "tripgate_failures_total", name=api, kind="other") == 2
    assert value(fams, "tripgate_circuitbreaker_not_permitted_calls_total", name=api) == 1
    assert value(fams, "tripgate_circuitbreaker_next_probe_seconds", name=api) == pytest.approx(30)
    p50 = value(fams, "tripgate_call_latency_seconds", name="database", quantile="0.5")
    assert p50 == pytest.approx(0.008, rel=0.04)
    assert value(fams, "tripgate_call_latency_seconds_count", name="database") == 5
    quantiles = {
        s.labels["quantile"]
        for s in fams["tripgate_call_latency_seconds"].samples
        if "quantile" in s.labels and s.labels["name"] == "database"
    }
    assert quantiles == {"0.5", "0.9", "0.95", "0.99", "0.999"}
    # No latency series for a breaker without latency tracking.
    assert all(s.labels["name"] != "cache" for s in fams["tripgate_call_latency_seconds"].samples)


def test_render_is_the_ops_exposition_and_counts_transitions_from_the_first_render(clock):
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=30, clock=clock)
    with pytest.raises(Boom):
        b.call(fail)  # before the first render: not counted
    exposition = tripgate.prometheus.Exposition()
    text = exposition.render({"db": b})
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(fams) == set(families_of(tripgate.prometheus.render({"db": b})))
    assert all(s.labels.get("from") is None for s in fams["tripgate_circuitbreaker_transitions"].samples)
    clock.advance(30)
    b.call(lambda: None)  # open -> half_open -> closed
    fams = {f.name: f for f in text_string_to_metric_families(exposition.render({"db": b}))}
    assert value(fams, "tripgate_circuitbreaker_transitions_total", name="db", **{"from": "open", "to": "half_open"}) == 1
    assert value(fams, "tripgate_circuitbreaker_transitions_total", name="db", **{"from": "half_open", "to": "closed"}) == 1
    assert tripgate.prometheus.CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_collector_reads_a_callable_at_every_scrape(clock):
    current: dict[str, tripgate.CircuitBreaker] = {}
    collector = TripgateCollector(lambda: current)
    assert all(not f.samples for f in scrape(collector).values())
    current["late"] = tripgate.CircuitBreaker(clock=clock)
    assert value(scrape(collector), "tripgate_breaker_state", name="late") == 0


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
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="open_share"):
            readiness(b, open_share=bad)
    assert liveness() == {"status_code": 200, "body": {"status": "alive"}}
    assert [state_value(s) for s in ("closed", "half_open", "open")] == [0, 1, 2]


def test_an_exposition_lets_go_of_breakers_and_their_listeners(clock):
    import gc
    import weakref

    exposition = tripgate.prometheus.Exposition()
    b = tripgate.CircuitBreaker(clock=clock)
    exposition.render({"db": b})
    ref = weakref.ref(b)
    del b
    gc.collect()
    assert ref() is None, "the exposition pinned the breaker"
