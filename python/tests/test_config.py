"""Options, config files, reconfiguration and bad input."""

from __future__ import annotations

import json
import math

import pytest

import tripgate
from conftest import Boom, fail, ok


def test_every_option_reaches_the_engine(clock):
    b = tripgate.CircuitBreaker(
        fail_max=7,
        reset_timeout=2.5,
        success_threshold=3,
        failure_rate_threshold=0.25,
        minimum_calls=12,
        window_duration=60,
        window_buckets=12,
        slow_call_duration=0.5,
        slow_call_rate_threshold=0.8,
        latency_percentile=("p99", 0.25),
        failure_weights={"timeout": 2},
        max_reset_timeout=60,
        backoff_multiplier=2,
        jitter=0.1,
        backoff_decay=120,
        half_open_permits=4,
        half_open_max_wait=30,
        slow_start=(0.1, 20),
        track_latency=True,
        histogram_precision=6,
        track_in_flight=True,
        seed=9,
        clock=clock,
    )
    c = b.config
    assert c["consecutive_failures"] == 7
    assert c["open"] == {"duration": "2s 500ms", "multiplier": 2.0, "max_duration": "1m", "jitter": 0.1, "decay_after": "2m"}
    assert c["half_open"] == {"permits": 4, "success_threshold": 3, "max_wait": "30s"}
    assert c["window"] == {"kind": "time", "duration": "1m", "buckets": 12}
    assert c["failure_rate_threshold"] == 0.25 and c["minimum_calls"] == 12
    assert c["slow_call_duration"] == "500ms" and c["slow_call_rate_threshold"] == 0.8
    assert c["latency_percentile"] == {"quantile": 0.99, "limit": "250ms"}
    assert c["failure_weights"]["timeout"] == 2.0
    assert c["slow_start"] == {"initial_fraction": 0.1, "duration": "20s"}
    assert (c["histogram_precision"], c["track_in_flight"], c["seed"]) == (6, True, 9)
    assert "duration = \"2s 500ms\"" in b.config_toml()
    assert b.memory_bytes() > 0


def test_count_window_and_reset_timeout_raise_the_cap(clock):
    b = tripgate.CircuitBreaker(window_size=50, window_buckets=10, reset_timeout=600, clock=clock)
    assert b.config["window"] == {"kind": "count", "size": 50, "buckets": 10}
    assert b.config["open"]["max_duration"] == "10m"


def test_from_config_dict_toml_and_json(tmp_path, clock):
    d = {
        "consecutive_failures": 2,
        "failure_rate_threshold": None,
        "open": {"duration": 5, "max_duration": "1m"},
        "window": {"kind": "count", "size": 20},
    }
    b = tripgate.CircuitBreaker.from_config(d, name="d", clock=clock)
    assert b.config["open"]["duration"] == "5s" and b.name == "d"
    for _ in range(2):
        with pytest.raises(Boom):
            b.call(fail)
    assert b.state == "open" and b.retry_after == pytest.approx(5)

    toml = tmp_path / "breaker.toml"
    toml.write_text(
        'minimum_calls = 5\nlatency_percentile = { quantile = "p99", limit = "250ms" }\n'
        '[open]\nduration = "10s"\n[window]\nkind = "count"\nsize = 100\n'
    )
    t = tripgate.CircuitBreaker.from_config(toml, clock=clock)
    assert t.config["minimum_calls"] == 5 and t.config["window"]["size"] == 100
    js = tmp_path / "breaker.json"
    js.write_text(json.dumps({"minimum_calls": 3}))
    assert tripgate.CircuitBreaker.from_config(str(js)).config["minimum_calls"] == 3
    # The TOML the engine prints reads back to the same config.
    again = tmp_path / "again.toml"
    again.write_text(t.config_toml())
    assert tripgate.CircuitBreaker.from_config(again).config == t.config


def test_from_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("minimum_calls = 5\nfailure_rate = 0.5\n")
    with pytest.raises(ValueError, match="line 2") as e:
        tripgate.CircuitBreaker.from_config(bad)
    assert "failure_rate" in str(e.value)
    with pytest.raises(ValueError, match=r"half_open\.permits.*1\.\.=4095"):
        tripgate.CircuitBreaker.from_config({"half_open": {"permits": 0}})
    with pytest.raises(FileNotFoundError):
        tripgate.CircuitBreaker.from_config(tmp_path / "missing.toml")
    with pytest.raises(TypeError):
        tripgate.CircuitBreaker.from_config(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        ({"fail_max": 0}, ["fail_max", "1..="]),
        ({"fail_max": -3}, ["fail_max = -3", "1..="]),
        ({"reset_timeout": 0}, ["reset_timeout", "1us"]),
        ({"reset_timeout": -1}, ["reset_timeout = -1", "30days"]),
        ({"reset_timeout": math.inf}, ["reset_timeout", "30days"]),
        ({"failure_rate_threshold": 1.5}, ["failure_rate_threshold", "0.0 < t <= 1.0"]),
        ({"failure_rate_threshold": math.nan}, ["failure_rate_threshold", "0.0 < t <= 1.0"]),
        ({"window_size": 10, "window_buckets": 3}, ["window_buckets", "divisor"]),
        ({"window_size": 0}, ["window_size", "1..="]),
        ({"success_threshold": 0}, ["success_threshold", "1..=4095"]),
        ({"half_open_permits": 5000}, ["half_open_permits", "1..=4095"]),
        ({"histogram_precision": 9}, ["histogram_precision", "2..=7"]),
        ({"backoff_multiplier": 0.5}, ["backoff_multiplier", "1.0..=100.0"]),
        ({"jitter": 2}, ["jitter", "0.0..=1.0"]),
        ({"reset_timeout": 60, "max_reset_timeout": 10}, ["max_reset_timeout", "at least open.duration"]),
        ({"slow_start": (0, 10)}, ["slow_start", "0.0 < f <= 1.0"]),
        ({"latency_percentile": (1.0, 0.1)}, ["latency_percentile", "0.0 < q < 1.0"]),
        ({"latency_percentile": ("p42", 0.1)}, ["latency_percentile", "p99"]),
        ({"failure_weights": {"timeout": -1}}, ["failure_weights", "0.0..=100.0"]),
        ({"failure_weights": {"nope": 1}}, ["failure_weights", "timeout"]),
        ({"tier": "gold"}, ["tier", "critical"]),
        ({"seed": -1}, ["seed"]),
        ({"minimum_calls": 0}, ["minimum_calls", "1..="]),
    ],
)
def test_bad_values_name_the_option_and_range(options, needles):
    with pytest.raises(ValueError) as e:
        tripgate.CircuitBreaker(**options)
    for needle in needles:
        assert needle in str(e.value), (needle, str(e.value))


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"fail_max": "3"}, "fail_max"),
        ({"fail_max": 2.5}, "fail_max"),
        ({"track_latency": 1}, "track_latency"),
        ({"failure_rate_threshold": "half"}, "failure_rate_threshold"),
        ({"window_size": 10, "window_duration": 10}, "window_size"),
        ({"latency_percentile": 0.99}, "latency_percentile"),
        ({"slow_start": 0.5}, "slow_start"),
        ({"failure_weights": [1]}, "failure_weights"),
        ({"exclude": [42]}, "exclude"),
        ({"listeners": [42]}, "listener"),
        ({"classify": 42}, "classify"),
        ({"clock": object()}, "clock"),
        ({"name": 3}, "name"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_wrong_types_raise_type_error(options, needle):
    with pytest.raises(TypeError, match=needle):
        tripgate.CircuitBreaker(**options)


def test_config_error_attributes():
    with pytest.raises(tripgate.ConfigError) as e:
        tripgate.CircuitBreaker(reset_timeout=0)
    assert e.value.option == "reset_timeout"
    assert e.value.field == "open.duration"
    assert e.value.allowed and "30days" in e.value.allowed


def test_reconfigure_live(clock):
    b = tripgate.CircuitBreaker(fail_max=5, window_size=100, clock=clock)
    with pytest.raises(Boom):
        b.call(fail)
    b.reconfigure(fail_max=2, reset_timeout=3)
    assert b.fail_counter == 1  # state and counters survive
    with pytest.raises(Boom):
        b.call(fail)
    assert b.state == "open" and b.retry_after == pytest.approx(3)
    with pytest.raises(ValueError, match="fail_max"):
        b.reconfigure(fail_max=0)
    assert b.config["consecutive_failures"] == 2  # the old config keeps running
    with pytest.raises(ValueError, match="window"):
        b.reconfigure(window_size=1000)  # cannot grow past the buckets it was built with
    with pytest.raises(tripgate.ConfigError, match="window.kind") as e:
        b.reconfigure(window_duration=10)  # built with a count window, which stays one
    assert e.value.field == "window.kind"
    with pytest.raises(TypeError):
        b.reconfigure(tier="critical")
    b.reconfigure(exclude=[Boom])
    b.reset()
    for _ in range(3):
        with pytest.raises(Boom):
            b.call(fail)
    assert b.state == "closed"


def test_manual_clock():
    c = tripgate.ManualClock()
    assert c.now == 0 and c.now_nanos == 0
    c.advance(1.5)
    c.advance_nanos(10)
    assert c.now_nanos == 1_500_000_010
    assert "1.5" in repr(c)
    with pytest.raises(ValueError, match="seconds"):
        c.advance(-1)
    with pytest.raises(ValueError):
        c.advance(math.nan)


def test_system_clock_works():
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=0.001)
    with pytest.raises(Boom):
        b.call(fail)
    assert b.state == "open"
    assert b.call is not None and b.metrics().latency is not None
    assert ok() == 42
