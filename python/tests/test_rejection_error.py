"""CircuitBreakerError: the engine's rejection as attributes and the engine's message."""

import pickle

import pytest

import tripgate


def _fail() -> None:
    raise ConnectionError("down")


def _reject(b: tripgate.CircuitBreaker) -> tripgate.CircuitBreakerError:
    with pytest.raises(tripgate.CircuitBreakerError) as e:
        b.call(lambda: None)
    return e.value


def test_a_tripped_breaker_says_who_why_and_when() -> None:
    clock = tripgate.ManualClock()
    b = tripgate.CircuitBreaker(fail_max=2, reset_timeout=30, name="billing", clock=clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            b.call(_fail)
    clock.advance(29.1466)
    err = _reject(b)
    assert (err.name, err.state, err.reason) == ("billing", "open", "consecutive_failures")
    assert err.retry_after == pytest.approx(0.8534)
    # The core's Display, durations rounded there (three significant digits).
    assert str(err) == (
        "circuit breaker 'billing' is open (2 consecutive failures >= 2): "
        "call rejected, retry after 853ms"
    )


def test_a_rate_trip_names_the_failure_rate() -> None:
    clock = tripgate.ManualClock()
    b = tripgate.CircuitBreaker(failure_rate_threshold=0.5, minimum_calls=2, window_size=10, clock=clock)
    b.call(lambda: None)
    with pytest.raises(ConnectionError):
        b.call(_fail)
    err = _reject(b)
    assert err.reason == "failure_rate" and err.name is None
    assert str(err).startswith("circuit breaker is open (failure rate ")


def test_held_open_has_no_retry_after_and_a_manual_reason() -> None:
    b = tripgate.CircuitBreaker(name="db")
    b.force_open()
    err = _reject(b)
    assert (err.state, err.retry_after, err.reason) == ("forced_open", None, "manual")
    assert str(err) == f"circuit breaker 'db' is forced_open ({_reason_text(b)}): call rejected"


def _reason_text(b: tripgate.CircuitBreaker) -> str:
    seen: list[tripgate.Transition] = []
    b.add_listener(seen.append)
    b.reset()
    b.force_open()
    return seen[-1].description


def test_a_config_name_names_the_breaker() -> None:
    b = tripgate.CircuitBreaker.from_config({"name": "search"})
    assert b.name == "search"
    b.force_open()
    assert _reject(b).name == "search"
    # The keyword wins.
    assert tripgate.CircuitBreaker.from_config({"name": "search"}, name="other").name == "other"


def test_the_error_pickles_with_its_reason() -> None:
    e = tripgate.CircuitBreakerError("x is open", "x", "open", 1.5, "failure_rate")
    e2 = pickle.loads(pickle.dumps(e))
    assert (str(e2), e2.name, e2.state, e2.retry_after, e2.reason) == (
        "x is open",
        "x",
        "open",
        1.5,
        "failure_rate",
    )
