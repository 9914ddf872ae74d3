"""tripgate.Fleet: the fleet crate's replicas sharing Open, driven from Python.

The Redis tests need a real server: ``python/run_tests.sh`` runs pytest under
``fleet/with_redis.sh``, which starts a private one and exports its URL in
``TG_TEST_REDIS_URL`` (without it they are skipped). Several "replicas" live in
one process as several fleets with different ``replica`` ids. Breakers run on a
``ManualClock``; the only waits are ``sync()``'s, bounded, on real I/O.
"""

from __future__ import annotations

import datetime
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

import tripgate
import tripgate.prometheus
from conftest import Boom, fail, ok

REDIS_URL = os.environ.get("TG_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    REDIS_URL is None, reason="TG_TEST_REDIS_URL is not set (run python/run_tests.sh)"
)

SYNC = 5.0  # seconds: the bound on one round against a local server


def dead_url() -> str:
    """A URL on a loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def service() -> str:
    """A service name of its own per test: no test sees another's opinions."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fleets() -> Iterator[list[tripgate.Fleet]]:
    """Fleets a test makes, closed at its end whatever happened."""
    made: list[tripgate.Fleet] = []
    yield made
    for f in made:
        f.close()


def replica(fleets: list[tripgate.Fleet], service: str, name: str, **options: object) -> tripgate.Fleet:
    assert REDIS_URL is not None
    f = tripgate.Fleet(service=service, environment="test", replica=name, url=REDIS_URL, **options)
    fleets.append(f)
    return f


def sync_all(*fs: tripgate.Fleet) -> None:
    for f in fs:
        assert f.sync(timeout=SYNC), f"{f.replica}: round not done within {SYNC}s"


def trip(breaker: tripgate.CircuitBreaker) -> None:
    with pytest.raises(Boom):
        breaker.call(fail)
    # open, or already held open by its own fleet (its trip is a vote of a quorum)
    assert breaker.state in ("open", "forced_open")


# ------------------------------------------------------------------ with Redis


@needs_redis
def test_one_replica_trips_and_the_other_adopts_open(
    fleets: list[tripgate.Fleet], service: str, clock: tripgate.ManualClock
) -> None:
    # Two replicas, quorum a share of 0.5: one open report of two is a quorum.
    fa = replica(fleets, service, "r-a", quorum=0.5)
    fb = replica(fleets, service, "r-b", quorum=0.5)
    a = tripgate.CircuitBreaker(fail_max=1, reset_timeout=30, name="db", fleet=fa, clock=clock)
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=30, name="db", fleet=fb, clock=clock)
    assert a.fleet is fa and b.fleet is fb
    sync_all(fa, fb)
    assert (a.state, b.state) == ("closed", "closed")
    assert fb.metrics()["adoptions"] == 0

    trip(a)
    sync_all(fa, fb)
    # b never failed a call: it holds Open on the fleet's word.
    assert b.state == "forced_open"
    with pytest.raises(tripgate.CircuitBreakerError):
        b.call(ok)
    m = fb.metrics()
    assert m["adoptions"] == 1 and m["store_up"] is True and m["publishes"] >= 1

    # Leaving the fleet releases its holds: b is back on its own, closed.
    fb.close()
    assert b.state == "closed"
    assert b.call(ok) == 42


@needs_redis
def test_a_count_quorum_needs_that_many_open_replicas(
    fleets: list[tripgate.Fleet], service: str, clock: tripgate.ManualClock
) -> None:
    fs = [replica(fleets, service, f"r{i}", quorum=2) for i in range(3)]
    a, b, c = (tripgate.CircuitBreaker(fail_max=1, name="api", fleet=f, clock=clock) for f in fs)
    sync_all(*fs)

    trip(a)
    sync_all(*fs)
    assert c.state == "closed", "one open replica is not a quorum of 2"
    assert c.call(ok) == 42

    trip(b)
    sync_all(*fs)
    assert c.state == "forced_open"
    assert fs[2].metrics()["adoptions"] == 1


@needs_redis
def test_a_busy_healthy_replica_vetoes_adoption(
    fleets: list[tripgate.Fleet], service: str, clock: tripgate.ManualClock
) -> None:
    veto = {"minimum_calls": 5, "max_failure_rate": 0.5}
    fa = replica(fleets, service, "r-a", quorum=0.5, veto=veto)
    fb = replica(fleets, service, "r-b", quorum=0.5, veto=veto)
    a = tripgate.CircuitBreaker(fail_max=1, name="db", fleet=fa, clock=clock)
    b = tripgate.CircuitBreaker(fail_max=1, name="db", fleet=fb, clock=clock)
    for _ in range(5):
        b.call(ok)
    # A round reads the breaker, then the store: one begun before the calls (on
    # attaching) must end before a's trip, or its reading would not show them.
    sync_all(fa, fb)
    trip(a)
    sync_all(fa, fb)
    assert b.state == "closed"
    assert fb.metrics()["adoptions"] == 0


@needs_redis
def test_detach_stops_sharing_and_releases_a_hold(
    fleets: list[tripgate.Fleet], service: str, clock: tripgate.ManualClock
) -> None:
    fa = replica(fleets, service, "r-a", quorum=0.5)
    fb = replica(fleets, service, "r-b", quorum=0.5)
    a = tripgate.CircuitBreaker(fail_max=1, name="db", fleet=fa, clock=clock)
    b = tripgate.CircuitBreaker(fail_max=1, name="db", fleet=fb, clock=clock)
    trip(a)
    sync_all(fa, fb)
    assert b.state == "forced_open"
    assert fb.detach("db") is True
    sync_all(fb)
    assert b.state == "closed"
    assert fb.detach("db") is False


# ------------------------------------------------------------- without a store


def test_a_dead_store_never_blocks_calls(fleets: list[tripgate.Fleet]) -> None:
    f = tripgate.Fleet(
        service="svc", environment="test", replica="r1", url=dead_url(), connect_timeout="50ms", io_timeout="50ms"
    )
    fleets.append(f)
    breaker = tripgate.CircuitBreaker(fail_max=3, name="db", fleet=f)
    start = time.monotonic()
    for _ in range(2000):
        breaker.call(ok)
    calls = time.monotonic() - start
    assert calls < 2.0, f"2000 calls took {calls:.2f}s with the store down"
    # A round against a dead store ends (connection refused), and says the store is down.
    assert f.sync(timeout=SYNC)
    m = f.metrics()
    assert m["store_up"] is False and m["publishes"] == 0 and m["subscribed"] is False
    # The breaker still runs on its own: three failures in a row trip it.
    for _ in range(3):
        with pytest.raises(Boom):
            breaker.call(fail)
    assert breaker.state == "open"
    start = time.monotonic()
    f.close()
    assert time.monotonic() - start < 5.0
    assert f.closed


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"quorum": 1.5}, "quorum.share"),
        ({"quorum": 0}, "quorum.count"),
        ({"quorum": {"count": 20000}}, "quorum.count"),
        ({"quorum": {"count": 2, "share": 0.5}}, "quorum"),
        ({"heartbeat": "1ms"}, "heartbeat"),
        ({"heartbeat": "soon"}, "heartbeat"),
        ({"probe_lease": 7200}, "probe_lease"),
        ({"url": "http://127.0.0.1:6379"}, "store.url"),
        ({"url": "redis://user:pw@127.0.0.1:6379/0"}, "store.url"),
        ({"service": "a:b"}, "service"),
        ({"replica": ""}, "replica"),
        ({"veto": {"minimum_calls": 0, "max_failure_rate": 0.1}}, "veto.minimum_calls"),
        ({"veto": {"minimum_calls": 5}}, "veto.max_failure_rate"),
        ({"fleet_rate": {"minimum_calls": 10, "failure_rate": 2.0, "open_duration": 30}}, "fleet_rate.failure_rate"),
        ({"max_replicas": -1}, "max_replicas"),
        ({"connect_timeout": datetime.timedelta(minutes=5)}, "store.connect_timeout"),
        ({"password": "x", "password_env": "Y"}, "store.password"),
        ({"store": {"url": "redis://127.0.0.1/0"}}, "store.url"),
        ({"colour": "blue"}, "colour"),
        ({"veto": {"minimum_calls": 5, "max_failure_rate": 0.1, "extra": 1}}, "veto.extra"),
    ],
)
def test_a_bad_config_raises_config_error_naming_the_field(options: dict[str, object], field: str) -> None:
    kwargs: dict[str, object] = {"service": "svc", "environment": "test", "url": dead_url()}
    kwargs.update(options)
    with pytest.raises(tripgate.ConfigError) as e:
        tripgate.Fleet(**kwargs)
    assert e.value.field == field, str(e.value)
    assert field in str(e.value)


def test_missing_required_fields_are_named() -> None:
    with pytest.raises(tripgate.ConfigError, match="service: required") as e:
        tripgate.Fleet(environment="test", url=dead_url())
    assert e.value.field == "service"
    with pytest.raises(tripgate.ConfigError) as e:
        tripgate.Fleet(service="svc", environment="test")
    assert e.value.field == "store.url"


@pytest.mark.parametrize(
    ("options", "field"),
    [({"quorum": True}, "quorum"), ({"service": 3}, "service"), ({"heartbeat": [1]}, "heartbeat")],
)
def test_a_value_of_the_wrong_type_is_a_type_error_naming_the_field(options: dict[str, object], field: str) -> None:
    kwargs: dict[str, object] = {"service": "svc", "environment": "test", "url": dead_url()}
    kwargs.update(options)
    with pytest.raises(TypeError, match=field):
        tripgate.Fleet(**kwargs)


def test_a_mapping_and_keywords_make_one_config(fleets: list[tripgate.Fleet]) -> None:
    config = {"service": "svc", "environment": "test", "store": {"url": dead_url()}, "quorum": {"share": 0.5}}
    f = tripgate.Fleet(config, replica="from-kw", heartbeat=datetime.timedelta(milliseconds=250))
    fleets.append(f)
    assert (f.service, f.environment, f.replica) == ("svc", "test", "from-kw")
    assert f.url == config["store"]["url"]  # type: ignore[index]


def test_the_password_is_never_shown(fleets: list[tripgate.Fleet]) -> None:
    secret = "hunter2-" + uuid.uuid4().hex
    f = tripgate.Fleet(service="svc", environment="test", replica="r1", url=dead_url(), username="u", password=secret)
    fleets.append(f)
    breaker = tripgate.CircuitBreaker(name="db", fleet=f)
    f.sync(timeout=SYNC)
    shown = [repr(f), str(f), str(f.metrics()), f.prometheus(), tripgate.prometheus.render({"db": breaker}, fleet=f)]
    for text in shown:
        assert secret not in text
    # Not in an error about the password's field either.
    with pytest.raises(tripgate.ConfigError) as e:
        tripgate.Fleet(service="svc", environment="test", url=dead_url(), password=secret, password_env="X")
    assert secret not in str(e.value) and e.value.field == "store.password"
    with pytest.raises(TypeError) as t:
        tripgate.Fleet(service="svc", environment="test", url=dead_url(), password=[secret])
    assert secret not in str(t.value)


def test_the_default_replica_is_host_and_pid(fleets: list[tripgate.Fleet]) -> None:
    f = tripgate.Fleet(service="svc", environment="test", url=dead_url())
    fleets.append(f)
    assert f.replica.endswith(f"-{os.getpid()}")
    assert re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", f.replica)


def test_a_breaker_on_a_fleet_needs_a_valid_name(fleets: list[tripgate.Fleet]) -> None:
    f = tripgate.Fleet(service="svc", environment="test", replica="r1", url=dead_url())
    fleets.append(f)
    with pytest.raises(tripgate.ConfigError, match="needs a name") as e:
        tripgate.CircuitBreaker(fleet=f)
    assert e.value.field == "name"
    with pytest.raises(tripgate.ConfigError) as e:
        tripgate.CircuitBreaker(name="data base", fleet=f)
    assert e.value.field == "breaker name"
    with pytest.raises(TypeError, match="tripgate.Fleet"):
        tripgate.CircuitBreaker(name="db", fleet="redis://x")  # type: ignore[arg-type]
    tripgate.CircuitBreaker(name="db", fleet=f)
    with pytest.raises(tripgate.ConfigError, match="already attached"):
        tripgate.CircuitBreaker(name="db", fleet=f)
    # from_config: the config's name is the breaker's, and its name in the fleet
    from_file = tripgate.CircuitBreaker.from_config({"name": "cache"}, fleet=f)
    assert from_file.fleet is f and f.detach("cache") is True
    with pytest.raises(TypeError, match="CircuitBreaker"):
        f.attach("other", object())
    import tripgate.pybreaker as pybreaker

    with pytest.raises(TypeError, match="CircuitRedisStorage"):
        f.attach("other", pybreaker.CircuitBreaker())


def test_a_closed_fleet_refuses_work_and_keeps_its_figures(fleets: list[tripgate.Fleet]) -> None:
    with tripgate.Fleet(service="svc", environment="test", replica="r1", url=dead_url()) as f:
        assert not f.closed
        f.sync(timeout=SYNC)
    assert f.closed and "closed=True" in repr(f)
    f.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        f.attach("db", tripgate.CircuitBreaker())
    with pytest.raises(RuntimeError, match="closed"):
        f.sync()
    with pytest.raises(RuntimeError, match="closed"):
        f.detach("db")
    assert f.metrics()["store_up"] is False
    assert 'tripgate_fleet_store_up{replica="r1"} 0' in f.prometheus()


def test_prometheus_appends_the_fleet_families(fleets: list[tripgate.Fleet]) -> None:
    f = tripgate.Fleet(service="svc", environment="test", replica="r1", url=dead_url())
    fleets.append(f)
    db = tripgate.CircuitBreaker(name="db", fleet=f)
    text = tripgate.prometheus.render({"db": db}, fleet=f)
    assert 'tripgate_fleet_store_up{replica="r1"} 0' in text.splitlines()
    assert any(line.startswith('tripgate_breaker_state{name="db"}') for line in text.splitlines())
    assert "tripgate_fleet" not in tripgate.prometheus.render({"db": db})

    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    registry.register(tripgate.prometheus.TripgateCollector({"db": db}, fleet=f))
    assert registry.get_sample_value("tripgate_fleet_store_up", {"replica": "r1"}) == 0.0
    assert registry.get_sample_value("tripgate_fleet_publish_total", {"replica": "r1"}) == 0.0
