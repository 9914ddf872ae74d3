"""Prometheus metrics and health reports for a set of named breakers.

The exposition and the readiness rule are those of the Rust crate ``tripgate-ops``,
rendered and decided by it (this module only gathers the breakers): the same metric
families, the same label (``name``) and the same health decisions, so one set of
dashboards and alerts (``deploy/prometheus/alerts.yaml``) serves Rust and Python
services alike. The families are listed in ``ops/README.md``::

    from prometheus_client import REGISTRY, start_http_server
    from tripgate.prometheus import TripgateCollector, readiness

    breakers = {"database": db_breaker, "external_api": api_breaker}
    REGISTRY.register(TripgateCollector(breakers, critical={"database"}))
    start_http_server(9090, addr="127.0.0.1")

    report = readiness(breakers, critical={"database"})
    status, body = report["status_code"], report["body"]   # 200 or 503, JSON-ready dict

Without ``prometheus_client``, :func:`render` gives the exposition text to serve with
:data:`CONTENT_TYPE`. ``prometheus_client`` is needed only for
:class:`TripgateCollector`.

In fleet mode, pass the replica's :class:`tripgate.Fleet` as ``fleet=`` to
:func:`render`, :meth:`Exposition.render` or :class:`TripgateCollector`: the fleet's own
families (``tripgate_fleet_store_up``, ``tripgate_fleet_adopt_total``, ...; label
``replica``, rendered by ``tripgate-fleet``) are appended to the breakers'.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Union

from tripgate import CircuitBreaker, Fleet, _core

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = [
    "CONTENT_TYPE",
    "STATE_VALUES",
    "Exposition",
    "TripgateCollector",
    "liveness",
    "readiness",
    "render",
    "state_value",
]

Breakers = Union[Mapping[str, CircuitBreaker], Callable[[], Mapping[str, CircuitBreaker]]]

#: The ``Content-Type`` of :func:`render`'s text (Prometheus text format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

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


def state_value(state: str) -> int:
    """The numeric value of ``tripgate_breaker_state`` for a state name."""
    return STATE_VALUES[state]


def _current(breakers: Breakers) -> Mapping[str, CircuitBreaker]:
    return breakers() if callable(breakers) else breakers


class Exposition:
    """Renders named breakers as Prometheus text, counting each breaker's transitions
    (``tripgate_circuitbreaker_transitions_total{from,to}``) from the first time it is
    rendered. Keep one per set of breakers: :class:`TripgateCollector` holds one.
    """

    def __init__(self) -> None:
        self._counts: weakref.WeakKeyDictionary[CircuitBreaker, _core.TransitionCounts] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _counts_of(self, breaker: CircuitBreaker) -> _core.TransitionCounts:
        with self._lock:
            counts = self._counts.get(breaker)
            if counts is None:
                counts = self._counts[breaker] = _core.TransitionCounts(breaker)
            return counts

    def render(
        self, breakers: Mapping[str, CircuitBreaker], critical: Iterable[str] = (), fleet: Fleet | None = None
    ) -> str:
        """The exposition of ``breakers`` (name to breaker); names in ``critical`` get
        ``tripgate_breaker_critical 1``. With ``fleet``, the fleet's families follow."""
        names = frozenset(critical)
        entries = [(name, b, name in names, self._counts_of(b)) for name, b in breakers.items()]
        text = _core._exposition(entries)
        if fleet is not None:
            text += fleet.prometheus()
        return text


def render(
    breakers: Mapping[str, CircuitBreaker], critical: Iterable[str] = (), fleet: Fleet | None = None
) -> str:
    """The Prometheus text exposition of ``breakers`` (name to breaker), as the Rust
    admin endpoint serves it, followed by ``fleet``'s families when given. Transitions
    count from the first render of each breaker through this function (one shared
    :class:`Exposition`)."""
    return _SHARED.render(breakers, critical, fleet)


_SHARED = Exposition()


class TripgateCollector:
    """A ``prometheus_client`` collector for named breakers.

    ``breakers`` is a mapping of name to breaker, or a callable returning one (read at
    every scrape, so breakers added later show up). Names in ``critical`` get
    ``tripgate_breaker_critical 1``. With ``fleet`` (this replica's
    :class:`tripgate.Fleet`), the fleet's families are collected too. The families are
    rendered by ``tripgate-ops`` (``tripgate-fleet`` for the fleet's) and handed to
    ``prometheus_client`` through its own text parser.
    """

    def __init__(self, breakers: Breakers, critical: Iterable[str] = (), fleet: Fleet | None = None) -> None:
        self._breakers = breakers
        self._critical = frozenset(critical)
        self._fleet = fleet
        self._exposition = Exposition()

    def describe(self) -> list[Metric]:
        """Nothing up front: the series depend on the breakers present at scrape time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One family per metric, one series per breaker (label ``name``)."""
        from prometheus_client.parser import text_string_to_metric_families

        text = self._exposition.render(_current(self._breakers), self._critical, self._fleet)
        yield from text_string_to_metric_families(text)


def liveness() -> dict[str, Any]:
    """Liveness: always ``{"status_code": 200, "body": {"status": "alive"}}``."""
    return {"status_code": 200, "body": {"status": "alive"}}


def readiness(
    breakers: Breakers,
    open_share: float = 0.5,
    critical: Iterable[str] = (),
    critical_opens_fail: bool = True,
) -> dict[str, Any]:
    """Readiness: ``status_code`` 503 when at least ``open_share`` (0 < share <= 1) of
    the breakers are open, or when a breaker named in ``critical`` is open; 200
    otherwise.

    "Open" is ``open`` or ``forced_open``; half-open is reported ``degraded`` and does
    not count; no breakers is ready. ``body`` is a JSON-ready dict, the Rust admin
    endpoint's ``/health/ready`` body; the decision is ``tripgate-ops``' own.
    """
    names = frozenset(critical)
    entries = [(name, b, name in names) for name, b in _current(breakers).items()]
    status, body = _core._readiness(entries, float(open_share), bool(critical_opens_fail))
    return {"status_code": status, "body": json.loads(body)}
