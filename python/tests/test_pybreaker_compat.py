"""tripgate.pybreaker: pybreaker's documented behaviour, run by tripgate's engine.

Written from pybreaker's documentation (README and docstrings); time is a ManualClock.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
import types
import urllib.parse
import uuid
from typing import Any
from unittest import mock

import pytest

import tripgate
import tripgate.pybreaker as pybreaker


class Boom(Exception):
    """A system error raised by test calls."""


class BusinessError(Exception):
    """A business exception, excluded in some tests."""


class SubBusinessError(BusinessError):
    pass


def fail(exc: BaseException | None = None) -> None:
    raise exc if exc is not None else Boom("boom")


def ok(value: object = 42) -> object:
    return value


def echo(*args: object, **kwargs: object) -> tuple[object, ...]:
    return args + tuple(kwargs.items())


class Recorder(pybreaker.CircuitBreakerListener):
    """Records every hook as pybreaker's listeners receive it."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def before_call(self, cb: pybreaker.CircuitBreaker, func: Any, *args: Any, **kwargs: Any) -> None:
        self.events.append(("before_call", cb, func, args, kwargs))

    def state_change(
        self, cb: pybreaker.CircuitBreaker, old_state: pybreaker.CircuitBreakerState | None, new_state: pybreaker.CircuitBreakerState
    ) -> None:
        self.events.append(("state_change", None if old_state is None else old_state.name, new_state.name))

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        self.events.append(("failure", exc))

    def success(self, cb: pybreaker.CircuitBreaker) -> None:
        self.events.append(("success",))

    def names(self) -> list[str]:
        return [e[0] for e in self.events]


@pytest.fixture
def clock() -> tripgate.ManualClock:
    return tripgate.ManualClock()


def trip(cb: pybreaker.CircuitBreaker) -> None:
    """Fails ``fail_max`` calls in a row; the last one opens the breaker."""
    for _ in range(cb.fail_max - 1):
        with pytest.raises(Boom):
            cb.call(fail)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    assert cb.current_state == pybreaker.STATE_OPEN


# ------------------------------------------------------------------ construction


def test_defaults_are_pybreakers() -> None:
    cb = pybreaker.CircuitBreaker()
    assert (cb.fail_max, cb.reset_timeout, cb.success_threshold) == (5, 60, 1)
    assert cb.current_state == "closed" and cb.state.name == "closed"
    assert isinstance(cb.state, pybreaker.CircuitClosedState)
    assert (cb.fail_counter, cb.success_counter, cb.name) == (0, 0, None)
    # pybreaker's flags for its optional dependencies: neither is needed here.
    assert pybreaker.HAS_TORNADO_SUPPORT is True and pybreaker.HAS_REDIS_SUPPORT is True
    assert cb.excluded_exceptions == () and cb.listeners == ()
    assert (pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN) == ("closed", "open", "half-open")


def test_options_are_the_engines_rules() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=12.5, success_threshold=2, name="db")
    config = cb.breaker.config
    assert config["consecutive_failures"] == 3
    assert config["failure_rate_threshold"] is None  # only the streak trips, as in pybreaker
    assert config["half_open"]["success_threshold"] == 2
    assert cb.breaker.name == cb.name == "db"


def test_an_option_out_of_range_names_the_option_and_the_range() -> None:
    with pytest.raises(tripgate.ConfigError) as e:
        pybreaker.CircuitBreaker(fail_max=0)
    assert e.value.option == "fail_max" and e.value.allowed is not None and "1..=" in e.value.allowed
    with pytest.raises(ValueError, match="reset_timeout"):
        pybreaker.CircuitBreaker(reset_timeout=-1)


def test_the_error_class_is_tripgates() -> None:
    assert pybreaker.CircuitBreakerError is tripgate.CircuitBreakerError
    assert set(pybreaker.__all__) <= set(dir(pybreaker))


# ------------------------------------------------------------------ tripping


def test_opens_after_fail_max_consecutive_failures(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=3, clock=clock)
    for n in (1, 2):
        with pytest.raises(Boom):
            cb.call(fail)
        assert (cb.fail_counter, cb.current_state) == (n, "closed")
    # The call that trips raises CircuitBreakerError, chained to its own error.
    with pytest.raises(pybreaker.CircuitBreakerError) as e:
        cb.call(fail)
    assert isinstance(e.value.__cause__, Boom)
    assert str(e.value) == "Failures threshold reached, circuit breaker opened"
    assert (e.value.state, e.value.retry_after) == ("open", pytest.approx(60.0))
    assert (cb.current_state, cb.fail_counter) == ("open", 3)
    assert isinstance(cb.state, pybreaker.CircuitOpenState)


def test_a_success_resets_the_failure_count() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=3)
    for _ in range(2):
        with pytest.raises(Boom):
            cb.call(fail)
    assert cb.call(ok, "x") == "x"
    assert cb.fail_counter == 0
    for _ in range(2):
        with pytest.raises(Boom):
            cb.call(fail)
    assert cb.current_state == "closed"


def test_without_throw_new_error_on_trip_the_tripping_call_raises_its_own_error() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=2, throw_new_error_on_trip=False)
    for _ in range(2):
        with pytest.raises(Boom):
            cb.call(fail)
    assert cb.current_state == "open"
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(ok)


def test_while_open_calls_fail_at_once_without_running(clock: tripgate.ManualClock) -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=30, listeners=[rec], name="db", clock=clock)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    ran: list[int] = []
    rec.events.clear()
    clock.advance(29.9)
    with pytest.raises(pybreaker.CircuitBreakerError) as e:
        cb.call(ran.append, 1)
    assert ran == [] and rec.events == []  # not run, no before_call
    assert (e.value.name, e.value.state) == ("db", "open")
    assert e.value.retry_after == pytest.approx(0.1)


def test_the_trial_after_reset_timeout_closes_on_success(clock: tripgate.ManualClock) -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=60, listeners=[rec], clock=clock)
    trip(cb)
    clock.advance(60)
    assert cb.call(ok, 7) == 7
    assert (cb.current_state, cb.fail_counter) == ("closed", 0)
    transitions = [e[1:] for e in rec.events if e[0] == "state_change"]
    assert transitions == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    # The move to half-open is announced before the trial's before_call.
    tail = rec.names()[-4:]
    assert tail == ["state_change", "before_call", "success", "state_change"]


def test_a_failed_trial_opens_again_for_another_timeout(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=10, clock=clock)
    trip(cb)
    clock.advance(10)
    with pytest.raises(pybreaker.CircuitBreakerError) as e:
        cb.call(fail)
    assert str(e.value) == "Trial call failed, circuit breaker opened"
    assert isinstance(e.value.__cause__, Boom)
    assert cb.current_state == "open"
    clock.advance(9)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(ok)
    clock.advance(1)
    assert cb.call(ok) == 42 and cb.current_state == "closed"


def test_a_failed_trial_without_throw_new_error_raises_its_own_error(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=10, throw_new_error_on_trip=False, clock=clock)
    with pytest.raises(Boom):
        cb.call(fail)
    clock.advance(10)
    with pytest.raises(Boom):
        cb.call(fail)
    assert cb.current_state == "open"


def test_success_threshold_needs_that_many_trial_successes(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=5, success_threshold=3, clock=clock)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    clock.advance(5)
    for n in (1, 2):
        cb.call(ok)
        assert (cb.current_state, cb.success_counter) == ("half-open", n)
    cb.call(ok)
    assert (cb.current_state, cb.success_counter) == ("closed", 0)
    # A failure before the threshold opens it again.
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    clock.advance(5)
    cb.call(ok)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    assert (cb.current_state, cb.success_counter) == ("open", 0)


# ------------------------------------------------------------------ exclusions


def test_excluded_types_and_subclasses_are_not_system_errors() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=2, exclude=[BusinessError])
    for exc in (BusinessError(), SubBusinessError(), BusinessError()):
        with pytest.raises(BusinessError):
            cb.call(fail, exc)
    assert (cb.current_state, cb.fail_counter) == ("closed", 0)
    assert cb.is_system_error(SubBusinessError()) is False
    assert cb.is_system_error(Boom()) is True


def test_an_excluded_exception_counts_as_a_success() -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(fail_max=3, exclude=[BusinessError], listeners=[rec])
    for _ in range(2):
        with pytest.raises(Boom):
            cb.call(fail)
    with pytest.raises(BusinessError):
        cb.call(fail, BusinessError())
    assert cb.fail_counter == 0  # the streak is broken, as by a success
    assert rec.names()[-2:] == ["before_call", "success"]
    assert cb.breaker.metrics().successes == 1


def test_an_excluded_exception_in_a_trial_closes_the_breaker(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=5, exclude=[BusinessError], clock=clock)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    clock.advance(5)
    with pytest.raises(BusinessError):
        cb.call(fail, BusinessError())
    assert cb.current_state == "closed"


class HTTPError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


def test_predicates_and_types_mix() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=2, exclude=[lambda e: isinstance(e, HTTPError) and e.status_code < 500, KeyError])
    for exc in (HTTPError(404), KeyError("k"), HTTPError(409)):
        with pytest.raises(type(exc)):
            cb.call(fail, exc)
    assert cb.fail_counter == 0
    with pytest.raises(HTTPError):
        cb.call(fail, HTTPError(503))
    assert cb.fail_counter == 1
    assert cb.is_system_error(HTTPError(500)) and not cb.is_system_error(HTTPError(400))


def test_exclusions_are_managed_while_running() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=5)
    cb.add_excluded_exception(BusinessError)
    cb.add_excluded_exceptions(KeyError, ValueError)
    assert cb.excluded_exceptions == (BusinessError, KeyError, ValueError)
    with pytest.raises(KeyError):
        cb.call(fail, KeyError())
    assert cb.fail_counter == 0
    cb.remove_excluded_exception(KeyError)
    assert cb.excluded_exceptions == (BusinessError, ValueError)
    with pytest.raises(KeyError):
        cb.call(fail, KeyError())
    assert cb.fail_counter == 1
    with pytest.raises(ValueError):
        cb.remove_excluded_exception(KeyError)
    with pytest.raises(TypeError, match="exception types or predicates"):
        cb.add_excluded_exception(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------ listeners


def test_listeners_get_before_call_failure_success_and_state_change(clock: tripgate.ManualClock) -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(fail_max=2, listeners=[rec], clock=clock)
    cb.call(echo, 1, key="v")
    err = Boom("first")
    with pytest.raises(Boom):
        cb.call(fail, err)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    before = rec.events[0]
    assert before[1] is cb and before[2] is echo and before[3] == (1,) and before[4] == {"key": "v"}
    assert rec.names() == [
        "before_call",
        "success",
        "before_call",
        "failure",
        "before_call",
        "failure",
        "state_change",
    ]
    assert rec.events[3][1] is err  # failure gets the exception the call raised
    assert rec.events[-1] == ("state_change", "closed", "open")


def test_state_change_hands_state_objects_with_names() -> None:
    seen: list[tuple[pybreaker.CircuitBreakerState | None, pybreaker.CircuitBreakerState]] = []

    class Keep(pybreaker.CircuitBreakerListener):
        def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
            seen.append((old_state, new_state))

    cb = pybreaker.CircuitBreaker(listeners=[Keep()])
    cb.open()
    cb.half_open()
    cb.close()
    assert [(type(o).__name__, type(n).__name__) for o, n in seen] == [
        ("CircuitClosedState", "CircuitOpenState"),
        ("CircuitOpenState", "CircuitHalfOpenState"),
        ("CircuitHalfOpenState", "CircuitClosedState"),
    ]
    assert [str(n) for _, n in seen] == ["open", "half-open", "closed"]


def test_each_state_entered_is_built_by_its_class_with_the_one_left() -> None:
    # pybreaker builds a state object on entering a state: cls(cb, prev_state, notify).
    # Code (and pybreaker's own tests) patch these classes to watch the moves.
    built: list[tuple[str, Any, bool]] = []

    def watching(cls: type[pybreaker.CircuitBreakerState]) -> Any:
        def build(cb: Any, prev_state: Any = None, notify: bool = False) -> pybreaker.CircuitBreakerState:
            built.append((cls.__name__, prev_state, notify))
            return cls(cb, prev_state=prev_state, notify=notify)

        return build

    seen: list[tuple[Any, Any]] = []

    class Keep(pybreaker.CircuitBreakerListener):
        def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
            seen.append((old_state, new_state))

    closed_state = pybreaker.CircuitClosedState
    with mock.patch.multiple(
        pybreaker,
        CircuitOpenState=watching(pybreaker.CircuitOpenState),
        CircuitClosedState=watching(closed_state),
    ):
        cb = pybreaker.CircuitBreaker(listeners=[Keep()], state_storage=pybreaker.CircuitMemoryStorage("open"))
        assert built == [("CircuitOpenState", None, False)]  # no notice at construction
        opened = cb.state
        assert cb.state is opened and opened.name == "open"  # the object entered, kept
        cb.close()
        assert built[1:] == [("CircuitClosedState", opened, True)]
        assert seen == [(opened, cb.state)]
        assert isinstance(cb.state, closed_state)


def test_create_new_state_refuses_an_unknown_name() -> None:
    cb = pybreaker.CircuitBreaker()
    with pytest.raises(ValueError, match="unknown state 'foo'"):
        cb._create_new_state("foo")
    assert cb._create_new_state("half-open").name == "half-open"
    assert cb.current_state == "closed"  # building a state object moves nothing


def test_state_reads_where_the_engine_is_before_its_event_arrives(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=1, clock=clock)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    opened = cb.state
    # A transition whose event is still on its way (delivered on another thread, a
    # moment later): the adapter has not heard of it yet.
    with mock.patch.object(cb, "_enter"):
        cb.breaker.half_open()
        assert cb.state.name == "half-open" and cb.current_state == "half-open"
        assert cb.state is not opened
    assert cb._state is opened  # the object entered last is still the one kept


def test_without_tornado_support_call_async_decoration_raises_import_error() -> None:
    cb = pybreaker.CircuitBreaker()
    with mock.patch.object(pybreaker, "HAS_TORNADO_SUPPORT", False):
        with pytest.raises(ImportError, match="tornado"):
            cb(lambda: None, __pybreaker_call_async=True)
        assert cb(lambda: 1)() == 1  # plain calls need no Tornado


def test_listeners_are_added_and_removed() -> None:
    a, b, c = Recorder(), Recorder(), Recorder()
    cb = pybreaker.CircuitBreaker(listeners=[a])
    cb.add_listener(b)
    cb.add_listeners(c)
    assert cb.listeners == (a, b, c)
    cb.remove_listener(a)
    cb.call(ok)
    assert (len(a.events), len(b.events), len(c.events)) == (0, 2, 2)
    cb.remove_listener(b)
    cb.remove_listener(c)
    cb.call(ok)
    assert cb.listeners == () and len(b.events) == 2
    assert cb.breaker.call_listeners == ()  # no per-call cost without listeners
    with pytest.raises(ValueError):
        cb.remove_listener(a)


def test_the_base_listener_ignores_everything() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, listeners=[pybreaker.CircuitBreakerListener()])
    cb.call(ok)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)


def test_a_raising_listener_is_logged_and_the_call_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(pybreaker.CircuitBreakerListener):
        def before_call(self, cb: pybreaker.CircuitBreaker, func: Any, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("before_call bug")

        def success(self, cb: pybreaker.CircuitBreaker) -> None:
            raise RuntimeError("success bug")

    rec = Recorder()
    cb = pybreaker.CircuitBreaker(listeners=[Broken(), rec])
    with caplog.at_level(logging.ERROR, logger="tripgate"):
        assert cb.call(ok, 3) == 3
    assert rec.names() == ["before_call", "success"]
    assert "before_call bug" in caplog.text and "success bug" in caplog.text


# ------------------------------------------------------------------ ways to call


def test_decorator(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=2, clock=clock)

    @cb
    def update_customer(cust: str) -> str:
        """Updates a customer."""
        if cust == "bad":
            raise Boom(cust)
        return cust.upper()

    assert update_customer("ann") == "ANN"
    assert update_customer.__name__ == "update_customer" and update_customer.__doc__ == "Updates a customer."
    with pytest.raises(Boom):
        update_customer("bad")
    with pytest.raises(pybreaker.CircuitBreakerError):
        update_customer("bad")
    with pytest.raises(pybreaker.CircuitBreakerError):
        update_customer("ann")


def test_a_guarded_generator_is_one_call_until_it_ends() -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(fail_max=1, listeners=[rec])

    @cb
    def rows(n: int) -> Any:
        yield from range(n)
        if n > 2:
            raise Boom("too many")

    assert list(rows(2)) == [0, 1]
    assert rec.names() == ["before_call", "success"]
    gen = rows(3)
    assert next(gen) == 0 and cb.current_state == "closed"
    with pytest.raises(pybreaker.CircuitBreakerError):
        list(gen)
    assert cb.current_state == "open"


def test_calling_context_manager(clock: tripgate.ManualClock) -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(fail_max=2, listeners=[rec], clock=clock)
    with cb.calling():
        pass
    with pytest.raises(Boom):
        with cb.calling():
            raise Boom()
    with pytest.raises(pybreaker.CircuitBreakerError) as e:
        with cb.calling():
            raise Boom()
    assert isinstance(e.value.__cause__, Boom)
    ran = False
    with pytest.raises(pybreaker.CircuitBreakerError):
        with cb.calling():
            ran = True
    assert not ran
    assert rec.names().count("before_call") == 3


def test_call_async_and_async_def_decorator(clock: tripgate.ManualClock) -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(fail_max=2, listeners=[rec], clock=clock)

    async def fetch(key: str) -> str:
        await asyncio.sleep(0)
        if key == "bad":
            raise Boom(key)
        return key * 2

    @cb
    async def decorated(key: str) -> str:
        return await fetch(key)

    async def main() -> None:
        assert await cb.call_async(fetch, "a") == "aa"
        assert await decorated("b") == "bb"
        with pytest.raises(Boom):
            await cb.call_async(fetch, "bad")
        with pytest.raises(pybreaker.CircuitBreakerError):
            await decorated("bad")
        with pytest.raises(pybreaker.CircuitBreakerError):
            await cb.call_async(fetch, "a")

    asyncio.run(main())
    assert rec.names().count("success") == 2 and rec.names().count("failure") == 2


def test_pybreakers_async_decorator_keyword_means_call_async() -> None:
    cb = pybreaker.CircuitBreaker()

    async def work() -> int:
        return 5

    guarded = cb(__pybreaker_call_async=True)(work)
    assert asyncio.run(guarded()) == 5
    with pytest.raises(TypeError, match="unexpected keyword"):
        cb(other=True)


def test_acall_awaits_what_the_call_returns_and_counts_it(clock: tripgate.ManualClock) -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(fail_max=2, listeners=[rec], clock=clock)

    async def add(a: int, b: int = 0) -> int:
        await asyncio.sleep(0)
        return a + b

    async def broken() -> None:
        raise Boom("x")

    async def main() -> None:
        assert await cb.acall(add, 40, b=2) == 42
        assert await cb.acall(lambda: 7) == 7  # not awaitable: returned as is
        with pytest.raises(Boom):
            await cb.acall(broken)
        assert cb.fail_counter == 1
        with pytest.raises(pybreaker.CircuitBreakerError, match="Failures threshold reached"):
            await cb.acall(broken)
        with pytest.raises(pybreaker.CircuitBreakerError, match="Timeout not elapsed"):
            await cb.acall(add, 1)

    asyncio.run(main())
    assert rec.names().count("before_call") == 4
    assert (rec.names().count("success"), rec.names().count("failure")) == (2, 2)
    assert cb.current_state == "open"


def test_acall_refuses_generators_and_counts_them_neither_way(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(reset_timeout=5, clock=clock)

    def numbers() -> Any:
        yield 1

    async def stream() -> Any:
        yield 1

    async def main() -> None:
        with pytest.raises(TypeError, match="acall does not support synchronous generators"):
            await cb.acall(numbers)
        with pytest.raises(TypeError, match="acall does not support async generators"):
            await cb.acall(stream)

    asyncio.run(main())
    m = cb.breaker.metrics()
    assert (m.calls, cb.fail_counter, cb.current_state) == (0, 0, "closed")
    # A refused probe frees its slot: the next call is the trial.
    cb.open()
    clock.advance(5)
    with pytest.raises(TypeError):
        asyncio.run(cb.acall(numbers))
    assert cb.current_state == "half-open"
    assert cb.call(ok) == 42 and cb.current_state == "closed"


def test_a_cancelled_call_counts_neither_way() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1)

    async def cancelled() -> None:
        raise asyncio.CancelledError()

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cb.call_async(cancelled))
    with pytest.raises(KeyboardInterrupt):
        cb.call(fail, KeyboardInterrupt())
    assert (cb.current_state, cb.fail_counter) == ("closed", 0)
    assert cb.breaker.metrics().abandoned == 2


# ------------------------------------------------------------------ management


def test_fail_max_is_settable_live() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=5)
    for _ in range(3):
        with pytest.raises(Boom):
            cb.call(fail)
    cb.fail_max = 4
    assert cb.fail_max == 4
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    assert cb.current_state == "open"


def test_reset_timeout_is_settable_live(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=60, clock=clock)
    cb.reset_timeout = 5
    assert cb.reset_timeout == 5
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    clock.advance(5)
    assert cb.call(ok) == 42


def test_success_threshold_is_settable_live(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=1, clock=clock)
    cb.success_threshold = 2
    assert cb.success_threshold == 2
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    clock.advance(1)
    cb.call(ok)
    assert cb.current_state == "half-open"


def test_a_refused_setting_keeps_the_old_one() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
    with pytest.raises(tripgate.ConfigError):
        cb.fail_max = 0
    with pytest.raises(ValueError):
        cb.reset_timeout = -3
    assert (cb.fail_max, cb.reset_timeout) == (5, 60)


def test_open_half_open_close(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=10, clock=clock)
    cb.open()
    assert cb.current_state == "open"
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(ok)
    # Opening again starts a new timeout, as pybreaker's open() does.
    clock.advance(6)
    cb.open()
    clock.advance(6)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(ok)
    cb.half_open()
    assert cb.current_state == "half-open" and isinstance(cb.state, pybreaker.CircuitHalfOpenState)
    cb.close()
    assert cb.current_state == "closed"


def test_setting_state_opens_half_opens_or_closes(clock: tripgate.ManualClock) -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(listeners=[rec], clock=clock)
    cb.state = pybreaker.STATE_OPEN
    assert cb.current_state == "open"
    cb.state = "half-open"
    assert cb.current_state == "half-open"
    cb.state = "closed"
    assert cb.current_state == "closed"
    assert [e[1:] for e in rec.events] == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    with pytest.raises(ValueError, match="unknown state 'half_open': allowed 'open', 'half-open', 'closed'"):
        cb.state = "half_open"
    assert cb.current_state == "closed"


def test_a_rejection_speaks_pybreakers_words_then_the_engines(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=30, name="db", clock=clock)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    clock.advance(10)
    with pytest.raises(pybreaker.CircuitBreakerError) as e:
        cb.call(ok)
    assert str(e.value) == (
        "Timeout not elapsed yet, circuit breaker still open (circuit breaker 'db' is open "
        "(1 consecutive failures >= 1): call rejected, retry after 20s)"
    )
    assert (e.value.name, e.value.state, e.value.retry_after, e.value.reason) == ("db", "open", 20.0, "consecutive_failures")
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_close_resets_the_failure_count(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(fail_max=3, clock=clock)
    for _ in range(2):
        with pytest.raises(Boom):
            cb.call(fail)
    cb.close()
    assert cb.fail_counter == 0
    trip(cb)
    cb.close()
    assert (cb.current_state, cb.fail_counter) == ("closed", 0)
    with pytest.raises(Boom):  # one failure after closing does not trip again
        cb.call(fail)
    assert cb.current_state == "closed"


def test_name_shows_in_errors_and_repr() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, name="billing")
    assert cb.name == "billing" and "billing" in repr(cb)
    with pytest.raises(pybreaker.CircuitBreakerError) as e:
        cb.call(fail)
    assert str(e.value) == "circuit breaker 'billing': Failures threshold reached, circuit breaker opened"
    assert e.value.name == "billing"


def test_name_is_settable_and_rejections_use_the_new_one() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=1, name="billing")
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    cb.name = "payments"
    assert cb.name == cb.breaker.name == "payments"
    with pytest.raises(pybreaker.CircuitBreakerError) as e:
        cb.call(lambda: None)
    assert e.value.name == "payments" and "payments" in str(e.value)
    cb.name = None
    assert cb.name is None


# ------------------------------------------------------------------ storage


def test_memory_storage_chooses_the_initial_state(clock: tripgate.ManualClock) -> None:
    cb = pybreaker.CircuitBreaker(reset_timeout=30, state_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_OPEN), clock=clock)
    assert cb.current_state == "open"
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(ok)
    clock.advance(30)
    assert cb.call(ok) == 42 and cb.current_state == "closed"
    half = pybreaker.CircuitBreaker(state_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_HALF_OPEN))
    assert half.current_state == "half-open"
    closed = pybreaker.CircuitBreaker(state_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED))
    assert closed.current_state == "closed"
    storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
    assert (storage.name, storage.state) == ("memory", "closed")
    # Without one, a breaker has pybreaker's default storage.
    default = pybreaker.CircuitBreaker().state_storage
    assert isinstance(default, pybreaker.CircuitMemoryStorage) and (default.name, default.state) == ("memory", "closed")
    with pytest.raises(ValueError, match="unknown state 'half_open'"):
        pybreaker.CircuitMemoryStorage("half_open")


# ------------------------------------------------------- CircuitRedisStorage (fleet)
#
# Backed by tripgate.Fleet against the real Redis python/run_tests.sh starts
# (fleet/with_redis.sh, TG_TEST_REDIS_URL); the client is a duck-typed stand-in
# for redis-py's (tripgate reads only its connection_pool.connection_kwargs).

REDIS_URL = os.environ.get("TG_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    REDIS_URL is None, reason="TG_TEST_REDIS_URL is not set (run python/run_tests.sh)"
)


class FakeRedis:
    """What tripgate reads of a redis-py client: ``connection_pool.connection_kwargs``."""

    def __init__(self, **connection_kwargs: Any) -> None:
        self.connection_pool = types.SimpleNamespace(connection_kwargs=connection_kwargs)

    @classmethod
    def at(cls, url: str, **extra: Any) -> FakeRedis:
        u = urllib.parse.urlsplit(url)
        return cls(host=u.hostname, port=u.port, db=int(u.path.strip("/") or 0), **extra)


def dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@pytest.fixture
def storages() -> Any:
    made: list[pybreaker.CircuitRedisStorage] = []
    yield made
    for s in made:
        s.close()


@needs_redis
def test_redis_storage_shares_open_between_processes(storages: list[Any], clock: tripgate.ManualClock) -> None:
    assert REDIS_URL is not None
    namespace = f"ns{uuid.uuid4().hex[:10]}"
    redis = FakeRedis.at(REDIS_URL)
    # Two "processes": two storages on one server, one namespace, two replica ids.
    s1 = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, redis, namespace=namespace, replica="p1", quorum=0.5)
    s2 = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, redis, namespace=namespace, replica="p2", quorum=0.5)
    storages += [s1, s2]
    assert (s1.name, s1.state, s1.namespace) == ("redis", "closed", namespace)
    assert s1.fleet.service == namespace and s1.fleet.url == REDIS_URL
    cb1 = pybreaker.CircuitBreaker(fail_max=2, name="payments", state_storage=s1, clock=clock)
    cb2 = pybreaker.CircuitBreaker(fail_max=2, name="payments", state_storage=s2, clock=clock)
    assert cb1.state_storage is s1
    assert s1.fleet.sync(timeout=5) and s2.fleet.sync(timeout=5)
    assert cb2.current_state == "closed" and s1.fleet.metrics()["store_up"] is True

    with pytest.raises(Boom):
        cb1.call(fail)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb1.call(fail)
    assert s1.fleet.sync(timeout=5) and s2.fleet.sync(timeout=5)
    # cb2 never saw a failure: it is open on the other process's word.
    assert cb2.current_state == "open"
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb2.call(ok)
    assert s2.fleet.metrics()["adoptions"] == 1

    # A breaker built later on s2 under the same name is the one the fleet shares
    # from then on; cb2 runs on unshared (its fleet hold is released).
    # The fleet's thread releases the hold: a round (`sync`) runs after the detach.
    newer = pybreaker.CircuitBreaker(fail_max=2, name="payments", state_storage=s2, clock=clock)
    assert s1.fleet.sync(timeout=5) and s2.fleet.sync(timeout=5)
    assert newer.current_state == "open" and cb2.current_state == "closed"


@needs_redis
def test_redis_storage_another_namespace_is_another_fleet(storages: list[Any], clock: tripgate.ManualClock) -> None:
    assert REDIS_URL is not None
    redis = FakeRedis.at(REDIS_URL)
    s1 = pybreaker.CircuitRedisStorage("closed", redis, namespace=f"a{uuid.uuid4().hex[:10]}", replica="p1", quorum=0.5)
    s2 = pybreaker.CircuitRedisStorage("closed", redis, namespace=f"b{uuid.uuid4().hex[:10]}", replica="p2", quorum=0.5)
    storages += [s1, s2]
    cb1 = pybreaker.CircuitBreaker(fail_max=1, state_storage=s1, clock=clock)
    cb2 = pybreaker.CircuitBreaker(fail_max=1, state_storage=s2, clock=clock)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb1.call(fail)
    assert s1.fleet.sync(timeout=5) and s2.fleet.sync(timeout=5)
    assert cb2.current_state == "closed"


def test_redis_storage_with_redis_unreachable_runs_on_the_local_breaker(storages: list[Any]) -> None:
    # pybreaker falls back to fallback_circuit_state ("closed") when Redis is down;
    # here the process's own breaker carries on: calls flow, and it still trips.
    redis = FakeRedis(host="127.0.0.1", port=dead_port(), db=0)
    start = time.monotonic()
    storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, redis, fallback_circuit_state=pybreaker.STATE_CLOSED, connect_timeout="50ms"
    )
    storages.append(storage)
    cb = pybreaker.CircuitBreaker(fail_max=2, name="db", state_storage=storage)
    for _ in range(1000):
        assert cb.call(ok) == 42
    assert time.monotonic() - start < 2.0
    assert storage.fleet.sync(timeout=5)
    assert storage.fleet.metrics()["store_up"] is False
    assert storage.fallback_circuit_state == "closed"
    with pytest.raises(Boom):
        cb.call(fail)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb.call(fail)
    assert cb.current_state == "open"


def test_redis_storage_shares_the_newest_breaker_of_a_name_until_it_is_collected(storages: list[Any]) -> None:
    storage = pybreaker.CircuitRedisStorage("closed", FakeRedis(host="127.0.0.1", port=dead_port()), connect_timeout="50ms")
    storages.append(storage)
    first = pybreaker.CircuitBreaker(name="db", state_storage=storage)
    # pybreaker's breakers on one storage share its keys: a second one is no error.
    second = pybreaker.CircuitBreaker(name="db", state_storage=storage)
    del second
    gc.collect()
    # The newest breaker's name was freed with it; the first one's was taken over then.
    assert storage.fleet.detach("db") is False
    del first
    gc.collect()
    third = pybreaker.CircuitBreaker(state_storage=storage)
    assert third.current_state == "closed"
    del third
    gc.collect()
    assert storage.fleet.detach("default") is False


def test_redis_storage_reads_the_clients_connection(storages: list[Any]) -> None:
    secret = "s3cret-" + uuid.uuid4().hex
    port = dead_port()
    redis = FakeRedis(host="127.0.0.1", port=port, db=3, username="app", password=secret)
    storage = pybreaker.CircuitRedisStorage("open", redis, replica="p1", environment="prod")
    storages.append(storage)
    f = storage.fleet
    assert (f.url, f.service, f.environment, f.replica) == (f"redis://127.0.0.1:{port}/3", "pybreaker", "prod", "p1")
    assert secret not in repr(f) and secret not in f.prometheus() and secret not in str(f.metrics())
    cb = pybreaker.CircuitBreaker(state_storage=storage, clock=tripgate.ManualClock())
    assert cb.current_state == "open"  # the storage's initial state
    # redis-py's defaults when the kwargs leave them out
    s2 = pybreaker.CircuitRedisStorage("closed", FakeRedis(), replica="p2", connect_timeout="10ms")
    storages.append(s2)
    assert s2.fleet.url == "redis://localhost:6379/0"


def test_redis_storage_refuses_what_it_cannot_honour() -> None:
    redis = FakeRedis(host="127.0.0.1", port=dead_port())
    with pytest.raises(ValueError, match="unknown fallback_circuit_state 'broken'"):
        pybreaker.CircuitRedisStorage("closed", redis, fallback_circuit_state="broken")
    with pytest.raises(ValueError, match="unknown state 'half_open'"):
        pybreaker.CircuitRedisStorage("half_open", redis)
    for fallback in (pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN):
        with pytest.raises(NotImplementedError, match="own breaker"):
            pybreaker.CircuitRedisStorage("closed", redis, fallback_circuit_state=fallback)
    with pytest.raises(NotImplementedError, match="cluster_mode"):
        pybreaker.CircuitRedisStorage("closed", redis, cluster_mode=True)
    with pytest.raises(TypeError, match="redis-py client"):
        pybreaker.CircuitRedisStorage("closed", object())
    with pytest.raises(NotImplementedError, match="Unix socket"):
        pybreaker.CircuitRedisStorage("closed", FakeRedis(path="/tmp/redis.sock"))
    with pytest.raises(TypeError, match="url cannot be given"):
        pybreaker.CircuitRedisStorage("closed", redis, url="redis://127.0.0.1/0")
    with pytest.raises(tripgate.ConfigError) as e:
        pybreaker.CircuitRedisStorage("closed", redis, namespace="no spaces")
    assert e.value.field == "service"
    storage = pybreaker.CircuitRedisStorage("closed", redis, replica="p1")
    try:
        with pytest.raises(tripgate.ConfigError) as e:
            pybreaker.CircuitBreaker(name="bad name", state_storage=storage)
        assert e.value.field == "breaker name"
    finally:
        storage.close()


TLS_URL = os.environ.get("TG_TEST_REDIS_TLS_URL")
TLS_CA = os.environ.get("TG_TEST_REDIS_TLS_CA")


class SSLConnection:
    """Stands for redis-py's ``SSLConnection`` class: only its name is read."""


@pytest.mark.skipif(TLS_URL is None or TLS_CA is None, reason="TG_TEST_REDIS_TLS_URL is not set")
def test_redis_storage_over_tls_shares_open(storages: list[Any], clock: tripgate.ManualClock) -> None:
    assert TLS_URL is not None and TLS_CA is not None
    namespace = f"tls{uuid.uuid4().hex[:10]}"

    def client() -> FakeRedis:
        c = FakeRedis.at(TLS_URL, ssl_ca_certs=TLS_CA)
        c.connection_pool.connection_class = SSLConnection
        return c

    s1 = pybreaker.CircuitRedisStorage("closed", client(), namespace=namespace, replica="p1", quorum=0.5)
    s2 = pybreaker.CircuitRedisStorage("closed", client(), namespace=namespace, replica="p2", quorum=0.5)
    storages += [s1, s2]
    assert s1.fleet.url == TLS_URL.replace("redis://", "rediss://")
    cb1 = pybreaker.CircuitBreaker(fail_max=1, name="payments", state_storage=s1, clock=clock)
    cb2 = pybreaker.CircuitBreaker(fail_max=1, name="payments", state_storage=s2, clock=clock)
    assert s1.fleet.sync(timeout=5) and s2.fleet.sync(timeout=5)
    with pytest.raises(pybreaker.CircuitBreakerError):
        cb1.call(fail)
    assert s1.fleet.sync(timeout=5) and s2.fleet.sync(timeout=5)
    assert s2.fleet.metrics()["store_up"] is True
    assert cb2.current_state == "open"


def test_redis_storage_refuses_a_tls_client_that_checks_no_certificate() -> None:
    c = FakeRedis(host="127.0.0.1", port=dead_port(), ssl_cert_reqs="none")
    with pytest.raises(NotImplementedError, match="does not check the server's certificate"):
        pybreaker.CircuitRedisStorage("closed", c)


def test_other_storages_are_refused() -> None:
    class Custom(pybreaker.CircuitBreakerStorage):
        @property
        def state(self) -> str:
            return "closed"

    with pytest.raises(NotImplementedError, match="Custom"):
        pybreaker.CircuitBreaker(state_storage=Custom("custom"))


# ------------------------------------------------------------------ the engine underneath


def test_the_engine_counts_and_is_reachable() -> None:
    cb = pybreaker.CircuitBreaker(fail_max=2, exclude=[BusinessError])
    cb.call(ok)
    with pytest.raises(Boom):
        cb.call(fail)
    with pytest.raises(BusinessError):
        cb.call(fail, BusinessError())
    m = cb.breaker.metrics()
    assert (m.calls, m.successes, m.failures) == (3, 2, 1)
    assert isinstance(cb.breaker, tripgate.CircuitBreaker)


def test_a_dropped_adapter_leaves_no_listener_behind() -> None:
    rec = Recorder()
    cb = pybreaker.CircuitBreaker(fail_max=1, listeners=[rec])
    engine = cb.breaker
    del cb
    with pytest.raises(Boom):
        engine.call(fail)
    assert rec.events == []


def test_concurrent_calls_each_reach_the_listeners_once() -> None:
    import threading

    class Count(pybreaker.CircuitBreakerListener):
        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.before = self.successes = self.failures = 0

        def before_call(self, cb: pybreaker.CircuitBreaker, func: Any, *args: Any, **kwargs: Any) -> None:
            with self.lock:
                self.before += 1

        def success(self, cb: pybreaker.CircuitBreaker) -> None:
            with self.lock:
                self.successes += 1

        def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
            assert isinstance(exc, BusinessError) is False and isinstance(exc, Boom)
            with self.lock:
                self.failures += 1

    count = Count()
    cb = pybreaker.CircuitBreaker(fail_max=1_000_000, exclude=[BusinessError], listeners=[count])

    def worker(i: int) -> None:
        for n in range(300):
            try:
                cb.call(fail, (Boom, BusinessError)[n % 2]()) if n % 3 == 0 else cb.call(ok)
            except (Boom, BusinessError):
                pass

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Of each thread's 300 calls, 100 raise: 50 Boom (failures), 50 excluded (successes).
    assert (count.before, count.failures, count.successes) == (1200, 200, 1000)
    m = cb.breaker.metrics()
    assert (m.calls, m.failures, m.successes) == (1200, 200, 1000)


def test_outcome_hooks_run_one_at_a_time_on_a_breaker() -> None:
    import threading

    class Unlocked(pybreaker.CircuitBreakerListener):
        """Counts as a pybreaker listener may: read, yield to other threads, write."""

        def __init__(self) -> None:
            self.inside = self.most_inside = self.successes = self.failures = 0

        def count(self, attr: str) -> None:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            seen = getattr(self, attr)
            time.sleep(0)  # lets another thread run: a race here if hooks overlapped
            setattr(self, attr, seen + 1)
            self.inside -= 1

        def success(self, cb: pybreaker.CircuitBreaker) -> None:
            self.count("successes")

        def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
            self.count("failures")

    listener = Unlocked()
    cb = pybreaker.CircuitBreaker(fail_max=1_000_000, listeners=[listener])

    def worker() -> None:
        for n in range(200):
            try:
                cb.call(fail) if n % 4 == 0 else cb.call(ok)
            except Boom:
                pass

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert listener.most_inside == 1
    assert (listener.successes, listener.failures) == (600, 200)
