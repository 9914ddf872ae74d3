"""Transition listeners: after the transition, outside every lock, errors logged."""

from __future__ import annotations

import logging

import pytest

import tripgate
from conftest import Boom, fail, ok


def test_callable_listener_sees_every_transition(clock):
    events: list[tripgate.Transition] = []
    b = tripgate.CircuitBreaker(fail_max=2, reset_timeout=5, listeners=[events.append], name="svc", clock=clock)
    for _ in range(2):
        with pytest.raises(Boom):
            b.call(fail)
    clock.advance(5)
    b.call(ok)
    assert [(e.from_state, e.to_state, e.reason) for e in events] == [
        ("closed", "open", "consecutive_failures"),
        ("open", "half_open", "open_elapsed"),
        ("half_open", "closed", "probes_succeeded"),
    ]
    first = events[0]
    assert first.breaker is b
    assert first.open_for == pytest.approx(5)
    assert "consecutive failures" in first.description
    assert first.generation == 1
    assert events[1].open_for is None


def test_pybreaker_style_listener(clock):
    seen = []

    class Recorder(tripgate.CircuitBreakerListener):
        def state_change(self, cb, old_state, new_state):
            seen.append((cb.name, old_state, new_state))

    b = tripgate.CircuitBreaker(name="n", listeners=[Recorder()], clock=clock)
    b.force_open()
    b.reset()
    assert seen == [("n", "closed", "forced_open"), ("n", "forced_open", "closed")]


def test_listener_runs_after_the_transition_and_may_reenter(clock):
    observed = []

    def listener(e: tripgate.Transition) -> None:
        b = e.breaker
        observed.append((e.to_state, b.state, b.metrics().state))
        if e.to_state == "open":
            # Re-entering: a transition from inside a listener.
            b.reset()
            b.call(ok)

    b = tripgate.CircuitBreaker(fail_max=1, listeners=[listener], clock=clock)
    with pytest.raises(Boom):
        b.call(fail)
    assert observed[0] == ("open", "open", "open")
    assert observed[1][0] == "closed"
    assert b.state == "closed"
    assert b.metrics().successes == 1


def test_listener_errors_are_logged_not_raised(clock, caplog):
    calls = []

    def broken(e):
        raise RuntimeError("listener bug")

    b = tripgate.CircuitBreaker(fail_max=1, listeners=[broken, calls.append], name="x", clock=clock)
    with caplog.at_level(logging.ERROR, logger="tripgate"):
        with pytest.raises(Boom):
            b.call(fail)  # the caller sees its own error, not the listener's
    assert b.state == "open"
    assert len(calls) == 1  # later listeners still run
    assert "listener bug" in caplog.text


def test_add_and_remove_listeners(clock):
    events = []
    b = tripgate.CircuitBreaker(clock=clock)
    b.add_listener(events.append)
    b.force_open()
    b.remove_listener(events.append)
    b.reset()
    assert len(events) == 1
    assert b.listeners == ()
    with pytest.raises(TypeError):
        b.add_listener(42)  # type: ignore[arg-type]


def test_listeners_hear_of_half_open_before_the_probe_runs(clock):
    # As resilience4j, Polly and gobreaker announce it: the probe's own code sees it.
    heard: list[str] = []
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=5, listeners=[lambda t: heard.append(t.to_state)], clock=clock)

    def probe():
        return list(heard)

    for guarded in (lambda: b.call(probe), lambda: b(probe)()):
        with pytest.raises(Boom):
            b.call(fail)
        clock.advance(5)
        heard.clear()
        assert guarded() == ["half_open"]
        assert heard == ["half_open", "closed"]
    with pytest.raises(Boom):
        b.call(fail)
    clock.advance(5)
    heard.clear()
    with b:
        assert heard == ["half_open"]
    assert heard == ["half_open", "closed"]
