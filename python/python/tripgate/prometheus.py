"""Prometheus metrics and health reports for a set of named breakers.

The same metric names, labels and health rules as the Rust crate ``tripgate-ops``
(see ``ops/README.md``), so one set of dashboards and alerts
(``deploy/prometheus/alerts.yaml``) serves Rust and Python services alike::

    from prometheus_client import REGISTRY, start_http_server
    from tripgate.prometheus import TripgateCollector, readiness

    breakers = {"database": db_breaker, "external_api": api_breaker}
    REGISTRY.register(TripgateCollector(breakers, critical={"database"}))
    start_http_server(9090, addr="127.0.0.1")

    report = readiness(breakers, critical={"database"})
    status, body = report["status_code"], report["body"]   # 200 or 503, JSON-ready dict

``prometheus_client`` is needed only for :class:`TripgateCollector`; the health
functions are plain Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Union

from tripgate import CircuitBreaker, Metrics

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = ["STATE_VALUES", "TripgateCollector", "liveness", "readiness", "state_value"]

Breakers = Union[Mapping[str, CircuitBreaker], Callable[[], Mapping[str, CircuitBreaker]]]

#: The alert scale of ``tripgate_breaker_state``: 0 closed, 1 half-open, 2 open. Forced open counts as open;
#: forced closed, disabled and metrics-only as closed.
STATE_VALUES: dict[str, int] = {
    "closed": 0,
    "half_open": 1,
    "open": 2,
    "forced_open": 2,
    "forced_closed": 0,
    "disabled": 0,
    "metrics_only": 0,
}
_STATES = ("closed", "open", "half_open", "forced_open", "forced_closed", "disabled", "metrics_only")
_KINDS = ("timeout", "connection", "server_error", "rejected", "other")
_QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.95", "p95"), ("0.99", "p99"), ("0.999", "p999"))


def state_value(state: str) -> int:
    """The numeric value of ``tripgate_breaker_state`` for a state name."""
    return STATE_VALUES[state]


def _readings(breakers: Breakers) -> list[tuple[str, Metrics]]:
    current = breakers() if callable(breakers) else breakers
    return sorted((name, b.metrics()) for name, b in current.items()) if current else []


class TripgateCollector:
    """A ``prometheus_client`` collector for named breakers.

    ``breakers`` is a mapping of name to breaker, or a callable returning one (read at
    every scrape, so breakers added later show up). Names in ``critical`` get
    ``tripgate_breaker_critical 1``.
    """

    def __init__(self, breakers: Breakers, critical: Iterable[str] = ()) -> None:
        self._breakers = breakers
        self._critical = frozenset(critical)

    def describe(self) -> list[Metric]:
        """Nothing up front: the series depend on the breakers present at scrape time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One family per metric, one series per breaker (label ``service``)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            SummaryMetricFamily,
        )

        readings = _readings(self._breakers)

        def gauge(name: str, doc: str, value: Callable[[Metrics], float]) -> GaugeMetricFamily:
            g = GaugeMetricFamily(name, doc, labels=["service"])
            for service, m in readings:
                g.add_metric([service], value(m))
            return g

        def counter(name: str, doc: str, value: Callable[[Metrics], float]) -> CounterMetricFamily:
            c = CounterMetricFamily(name, doc, labels=["service"])
            for service, m in readings:
                c.add_metric([service], value(m))
            return c

        yield gauge(
            "tripgate_breaker_state",
            "Breaker state: 0 closed, 1 half-open, 2 open (forced open 2; forced closed, disabled, metrics-only 0).",
            lambda m: STATE_VALUES[m.state],
        )
        info = GaugeMetricFamily(
            "tripgate_breaker_state_info",
            "1 for the breaker's exact state, 0 for the others.",
            labels=["service", "state"],
        )
        for service, m in readings:
            for st in _STATES:
                info.add_metric([service, st], 1.0 if m.state == st else 0.0)
        yield info
        critical = self._critical
        crit = GaugeMetricFamily(
            "tripgate_breaker_critical",
            "1 when the breaker opening alone makes the process unready.",
            labels=["service"],
        )
        for service, _ in readings:
            crit.add_metric([service], 1.0 if service in critical else 0.0)
        yield crit
        calls = CounterMetricFamily(
            "tripgate_calls",
            "Calls by outcome: success, failure, ignored, abandoned (dropped without an outcome).",
            labels=["service", "outcome"],
        )
        for service, m in readings:
            for outcome, v in (
                ("success", m.successes),
                ("failure", m.failures),
                ("ignored", m.ignored),
                ("abandoned", m.abandoned),
            ):
                calls.add_metric([service, outcome], v)
        yield calls
        failures = CounterMetricFamily("tripgate_failures", "Failures by kind.", labels=["service", "kind"])
        for service, m in readings:
            for kind in _KINDS:
                failures.add_metric([service, kind], m.failures_by_kind.get(kind, 0))
        yield failures
        yield counter(
            "tripgate_slow_calls", "Successful calls at least slow_call_duration long.", lambda m: m.slow_calls
        )
        yield counter("tripgate_rejected_calls", "Calls the breaker refused.", lambda m: m.rejected)
        yield counter("tripgate_transitions", "State transitions.", lambda m: m.transitions)
        yield counter(
            "tripgate_listener_panics",
            "Transition listener calls that panicked (caught).",
            lambda m: m.listener_panics,
        )
        yield gauge("tripgate_state_duration_seconds", "Seconds since the last transition.", lambda m: m.time_in_state)
        yield gauge(
            "tripgate_failure_rate", "Weighted failure rate over the sliding window (0..1).", lambda m: m.failure_rate
        )
        yield gauge(
            "tripgate_slow_call_rate", "Slow-call rate over the sliding window (0..1).", lambda m: m.slow_call_rate
        )
        yield gauge("tripgate_window_calls", "Calls in the sliding window.", lambda m: m.window_calls)
        yield gauge("tripgate_consecutive_failures", "Failures in a row.", lambda m: m.consecutive_failures)
        yield gauge("tripgate_half_open_probes", "Half-open probes in flight.", lambda m: m.half_open_probes)
        yield gauge(
            "tripgate_backoff_level",
            "Consecutive re-trips the open duration is currently grown by.",
            lambda m: m.backoff_level,
        )
        yield gauge(
            "tripgate_retry_after_seconds",
            "Seconds until a call may be admitted (0 while calls are admitted).",
            lambda m: m.retry_after or 0.0,
        )
        # prometheus_client's SummaryMetricFamily has no quantile samples: add them.
        latency = SummaryMetricFamily(
            "tripgate_call_latency_seconds",
            "Call latency over the sliding window (quantiles of the window, not cumulative).",
            labels=["service"],
        )
        for service, m in readings:
            lat = m.latency
            if lat is None:
                continue
            for q, field in _QUANTILES:
                latency.add_sample(
                    "tripgate_call_latency_seconds", {"service": service, "quantile": q}, float(getattr(lat, field))
                )
            latency.add_sample("tripgate_call_latency_seconds_count", {"service": service}, float(lat.count))
            latency.add_sample("tripgate_call_latency_seconds_sum", {"service": service}, lat.mean * lat.count)
        yield latency


def liveness() -> dict[str, Any]:
    """Liveness: always ``{"status_code": 200, "body": {"status": "alive"}}``."""
    return {"status_code": 200, "body": {"status": "alive"}}


def readiness(
    breakers: Breakers,
    open_share: float = 0.5,
    critical: Iterable[str] = (),
    critical_opens_fail: bool = True,
) -> dict[str, Any]:
    """Readiness: ``status_code`` 503 when at least ``open_share`` of the breakers are
    open, or when a breaker named in ``critical`` is open; 200 otherwise.

    "Open" is ``open`` or ``forced_open``; half-open is reported ``degraded`` and does
    not count; no breakers is ready. ``body`` is a JSON-ready dict, the same as the Rust
    crate's ``/health/ready``.
    """
    readings = _readings(breakers)
    critical_names = frozenset(critical)
    total = len(readings)
    opened = [name for name, m in readings if m.state in ("open", "forced_open")]
    share = len(opened) / total if total else 0.0
    critical_open = [n for n in opened if n in critical_names]
    too_many = bool(opened) and share >= open_share
    crit = critical_opens_fail and bool(critical_open)
    ready = not too_many and not crit
    if crit:
        reason = "critical breaker open: " + ", ".join(critical_open)
    elif too_many:
        reason = f"{len(opened)} of {total} breakers open (unready at {open_share * 100}%)"
    else:
        reason = "ok"
    services: dict[str, Any] = {}
    for name, m in readings:
        status = {"open": "unhealthy", "forced_open": "unhealthy", "half_open": "degraded"}.get(m.state, "healthy")
        services[name] = {
            "status": status,
            "state": m.state,
            "critical": name in critical_names,
            "consecutive_failures": m.consecutive_failures,
            "failure_rate": m.failure_rate,
            "retry_after_seconds": m.retry_after,
        }
    return {
        "status_code": 200 if ready else 503,
        "body": {
            "status": "ready" if ready else "not_ready",
            "ready": ready,
            "reason": reason,
            "circuit_breakers": {
                "total": total,
                "open": len(opened),
                "open_percentage": share * 100.0,
                "unready_at_percentage": open_share * 100.0,
            },
            "services": services,
        },
    }
