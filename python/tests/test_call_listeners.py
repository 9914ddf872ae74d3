"""Per-call events: breaker.add_call_listener(f) sees every counted or rejected call."""

import asyncio
import logging

import pytest

import tripgate


def _breaker(**options: object) -> tuple[tripgate.CircuitBreaker, list[tripgate.CallEvent]]:
    b = tripgate.CircuitBreaker(clock=tripgate.ManualClock(), **options)  # type: ignore[arg-type]
    seen: list[tripgate.CallEvent] = []
    b.add_call_listener(seen.append)
    return b, seen


def _raise(exc: BaseException) -> None:
    raise exc


def _kinds(seen: list[tripgate.CallEvent]) -> list[tuple[str, str | None, str | None]]:
    """The outcomes seen (the before_call events are checked on their own below)."""
    return [(e.event, e.failure_kind, e.state) for e in seen if e.event != "before_call"]


def test_before_call_comes_after_admission_and_before_the_outcome_on_every_path() -> None:
    b, seen = _breaker(fail_max=1)
    order: list[str] = []
    b.add_call_listener(lambda e: order.append(e.event))

    def body() -> int:
        order.append("body")
        return 1

    b.call(body)
    with b:
        order.append("body")
    b.acquire().success()

    async def coro() -> int:
        return body()

    asyncio.run(b.acall(coro))
    assert order == ["before_call", "body", "success"] * 2 + ["before_call", "success"] + [
        "before_call",
        "body",
        "success",
    ]
    order.clear()
    b.force_open()
    with pytest.raises(tripgate.CircuitBreakerError):
        b.call(body)
    assert order == ["rejected"]  # not admitted: no before_call
    assert all(e.breaker is b and e.failure_kind is None for e in seen if e.event == "before_call")


def test_each_kind_in_order() -> None:
    b, seen = _breaker(fail_max=2, exclude=[KeyError])
    b.call(lambda: 1)
    with pytest.raises(KeyError):
        b.call(_raise, KeyError("k"))
    with pytest.raises(TimeoutError):
        b.call(_raise, TimeoutError())
    with pytest.raises(ConnectionError):
        with b:
            raise ConnectionError()
    with pytest.raises(tripgate.CircuitBreakerError):
        b.call(lambda: 1)
    assert _kinds(seen) == [
        ("success", None, None),
        ("ignored", None, None),
        ("failure", "timeout", None),
        ("failure", "connection", None),
        ("rejected", None, "open"),
    ]
    assert all(e.breaker is b for e in seen)


def test_permits_decorators_and_async_paths_are_seen() -> None:
    b, seen = _breaker()

    @b
    def sync() -> int:
        return 1

    @b
    async def coro() -> int:
        return 2

    async def plain() -> int:
        return 3

    async def main() -> None:
        await coro()
        await b.acall(plain)  # one call: `plain` is not decorated
        async with b:
            pass

    sync()
    asyncio.run(main())
    b.acquire().failure("server_error")
    assert _kinds(seen) == [("success", None, None)] * 4 + [("failure", "server_error", None)]


def test_latency_when_the_breaker_measures_it() -> None:
    clock = tripgate.ManualClock()
    b = tripgate.CircuitBreaker(clock=clock, slow_call_duration=1)
    seen: list[tripgate.CallEvent] = []
    b.add_call_listener(seen.append)

    def slow() -> None:
        clock.advance(2)

    b.call(slow)
    b.acquire().success(latency=0.25)
    latencies = [e.latency for e in seen if e.event != "before_call"]
    assert latencies == [pytest.approx(2.0), pytest.approx(0.25)]


def test_a_cancelled_call_releases_its_permit_silently() -> None:
    b, seen = _breaker()

    async def cancelled() -> None:
        raise asyncio.CancelledError()

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(b.acall(cancelled))
    assert [e.event for e in seen] == ["before_call"] and b.metrics().abandoned == 1


def test_removal_stops_the_events() -> None:
    b, seen = _breaker()
    other: list[tripgate.CallEvent] = []
    b.add_call_listener(other.append)
    assert b.call_listeners == (seen.append, other.append)
    b.remove_call_listener(seen.append)
    b.call(lambda: 1)  # before_call and success
    assert (len(seen), len(other)) == (0, 2)
    b.remove_call_listener(other.append)
    b.call(lambda: 1)
    assert (len(seen), len(other), b.call_listeners) == (0, 2, ())
    with pytest.raises(ValueError):
        b.remove_call_listener(other.append)
    # Back again after the last one left.
    b.add_call_listener(seen.append)
    b.call(lambda: 1)
    assert [e.event for e in seen] == ["before_call", "success"]


def test_a_raising_listener_is_logged_and_never_reaches_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    b = tripgate.CircuitBreaker()

    def broken(e: tripgate.CallEvent) -> None:
        raise RuntimeError("listener bug")

    seen: list[tripgate.CallEvent] = []
    b.add_call_listener(broken)
    b.add_call_listener(seen.append)
    with caplog.at_level(logging.ERROR, logger="tripgate"):
        assert b.call(lambda: 7) == 7
    assert [e.event for e in seen] == ["before_call", "success"]
    assert "listener bug" in caplog.text


def test_a_listener_may_call_back_into_the_breaker() -> None:
    b = tripgate.CircuitBreaker()
    states: list[str] = []
    b.add_call_listener(lambda e: states.append(e.breaker.state))
    b.call(lambda: 1)
    assert states == ["closed", "closed"]  # before_call and success


def test_a_listener_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        tripgate.CircuitBreaker().add_call_listener(42)  # type: ignore[arg-type]
