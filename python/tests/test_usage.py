"""The ways to call through a breaker, and how outcomes are classified."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

import tripgate
from conftest import Boom, fail, ok


def counts(b: tripgate.CircuitBreaker) -> tuple[int, int, int, int]:
    m = b.metrics()
    return m.successes, m.failures, m.ignored, m.abandoned


def test_decorator_sync_keeps_metadata_and_args(clock):
    b = tripgate.CircuitBreaker(clock=clock)

    @b
    def add(x: int, y: int = 1) -> int:
        """Adds."""
        return x + y

    assert add(1) == 2 and add(1, y=5) == 6
    assert add.__name__ == "add" and add.__doc__ == "Adds."
    assert add.__wrapped__(2) == 3
    assert add.breaker is b
    assert "add" in repr(add)
    assert counts(b) == (2, 0, 0, 0)


def test_decorator_with_parentheses_and_on_methods(clock):
    b = tripgate.CircuitBreaker(clock=clock)

    class Client:
        def __init__(self) -> None:
            self.n = 10

        @b()
        def get(self, k: int) -> int:
            return self.n + k

        @b
        @staticmethod
        def static(k: int) -> int:
            return k

    c = Client()
    assert c.get(1) == 11
    assert Client.get(c, 2) == 12
    assert Client.static(3) == 3
    assert counts(b) == (3, 0, 0, 0)


def test_call_passes_args_and_kwargs(clock):
    b = tripgate.CircuitBreaker(clock=clock)
    assert b.call(lambda *a, **k: (a, k), 1, 2, x=3) == ((1, 2), {"x": 3})
    # `func` is positional-only, so a keyword called func reaches the callee.
    assert b.call(lambda **k: k, func=1) == {"func": 1}


def test_exceptions_propagate_and_count(clock):
    b = tripgate.CircuitBreaker(clock=clock)

    @b
    def f() -> None:
        raise Boom("x")

    with pytest.raises(Boom):
        f()
    assert counts(b) == (0, 1, 0, 0)
    assert b.metrics().failures_by_kind["other"] == 1


def test_base_exceptions_are_neutral_and_release_the_permit(clock):
    b = tripgate.CircuitBreaker(fail_max=1, clock=clock)
    for exc in (KeyboardInterrupt(), SystemExit(1), GeneratorExit(), asyncio.CancelledError()):
        with pytest.raises(type(exc)):
            b.call(fail, exc)
    assert b.state == "closed"
    assert counts(b) == (0, 0, 0, 4)


def test_timeouts_and_connection_errors_map_to_kinds(clock):
    b = tripgate.CircuitBreaker(clock=clock)
    for exc in (TimeoutError(), asyncio.TimeoutError(), ConnectionRefusedError(), Boom()):
        with pytest.raises(type(exc)):
            b.call(fail, exc)
    kinds = b.metrics().failures_by_kind
    assert kinds == {"timeout": 2, "connection": 1, "server_error": 0, "rejected": 0, "other": 1}


def test_exclude_types_and_predicates_are_ignored(clock):
    class NotFound(Exception):
        pass

    b = tripgate.CircuitBreaker(
        fail_max=2,
        exclude=[NotFound, lambda e: isinstance(e, ValueError) and "caller" in str(e)],
        clock=clock,
    )
    b.call(ok)
    with pytest.raises(Boom):
        b.call(fail)
    # Excluded errors neither count nor reset the streak.
    for exc in (NotFound(), ValueError("caller error")):
        with pytest.raises(type(exc)):
            b.call(fail, exc)
    assert b.state == "closed" and b.fail_counter == 1
    with pytest.raises(ValueError):
        b.call(fail, ValueError("other"))
    assert b.state == "open"
    assert counts(b) == (1, 2, 2, 0)
    b.reset()
    b.add_excluded_exception(Boom)
    with pytest.raises(Boom):
        b.call(fail)
    assert b.fail_counter == 0
    assert Boom in b.excluded_exceptions


def test_classify_maps_exceptions_and_results(clock):
    class Response:
        def __init__(self, status: int) -> None:
            self.status = status

    def classify(exc, result):
        if exc is not None:
            return "ignored" if isinstance(exc, KeyError) else None
        if result.status == 429:
            return tripgate.Outcome.REJECTED
        if result.status >= 500:
            return "server_error"
        return None

    b = tripgate.CircuitBreaker(fail_max=10, classify=classify, clock=clock)
    for status in (200, 503, 429):
        assert b.call(ok, Response(status)).status == status  # the value still returns
    with pytest.raises(KeyError):
        b.call(fail, KeyError("k"))
    with pytest.raises(TimeoutError):
        b.call(fail, TimeoutError())  # None: default classification
    m = b.metrics()
    assert (m.successes, m.failures, m.ignored) == (1, 3, 1)
    assert m.failures_by_kind["server_error"] == 1
    assert m.failures_by_kind["rejected"] == 1
    assert m.failures_by_kind["timeout"] == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_broken_classify_hook(clock):
    b = tripgate.CircuitBreaker(classify=lambda exc, res: "nonsense", clock=clock)
    with pytest.raises(ValueError, match="classify hook"):
        b.call(ok)
    # On an exception, the caller still gets its own error; the hook error is reported.
    with pytest.raises(Boom):
        b.call(fail)
    b.reconfigure(classify=None)
    assert b.call(ok) == 42


def test_with_block(clock):
    b = tripgate.CircuitBreaker(fail_max=2, clock=clock)
    with b as entered:
        assert entered is b
    with pytest.raises(Boom):
        with b:
            raise Boom()
    with pytest.raises(KeyboardInterrupt):
        with b:
            raise KeyboardInterrupt()
    assert counts(b) == (1, 1, 0, 1)
    with pytest.raises(Boom):
        with b:
            raise Boom()
    assert b.state == "open"
    with pytest.raises(tripgate.CircuitBreakerError):
        with b:
            pytest.fail("an open breaker must not run the block")


def test_nested_with_on_two_breakers(clock):
    a = tripgate.CircuitBreaker(clock=clock)
    b = tripgate.CircuitBreaker(clock=clock)
    with pytest.raises(Boom):
        with a:
            with b:
                pass
            raise Boom()
    assert counts(a) == (0, 1, 0, 0)
    assert counts(b) == (1, 0, 0, 0)
    with pytest.raises(RuntimeError):
        b.__exit__(None, None, None)


def test_with_methods_on_the_class_take_an_instance(clock):
    b = tripgate.CircuitBreaker(clock=clock)
    assert tripgate.CircuitBreaker.__enter__(b) is b
    assert tripgate.CircuitBreaker.__exit__(b, None, None, None) is None
    assert counts(b) == (1, 0, 0, 0)


def test_with_exclude_and_classify_apply(clock):
    b = tripgate.CircuitBreaker(clock=clock, exclude=[KeyError])
    with pytest.raises(KeyError):
        with b:
            raise KeyError("x")
    with pytest.raises(TimeoutError):
        with b:
            raise TimeoutError()
    m = b.metrics()
    assert (m.ignored, m.failures, m.failures_by_kind["timeout"]) == (1, 1, 1)


def test_an_exclusion_wins_over_classify(clock):
    # A hook that calls every exception a failure, and a breaker that excludes two.
    b = tripgate.CircuitBreaker(
        clock=clock,
        exclude=[KeyError, lambda e: isinstance(e, ValueError)],
        classify=lambda exc, result: "failure" if exc is not None else None,
    )
    for error in (KeyError("k"), ValueError("v"), RuntimeError("r")):
        with pytest.raises(type(error)):
            with b:
                raise error
    m = b.metrics()
    assert (m.ignored, m.failures) == (2, 1)


def test_with_on_a_breaker_dropped_inside_the_block(clock):
    # The breaker object may be collected while its block runs (nothing else refers to
    # it); the block's outcome is still recorded on the engine, nothing crashes.
    import gc

    with tripgate.CircuitBreaker(clock=clock):
        gc.collect()
    with pytest.raises(Boom):
        with tripgate.CircuitBreaker(clock=clock):
            gc.collect()
            raise Boom()


def test_breakers_with_bound_methods_are_collected(clock):
    import gc
    import weakref

    b = tripgate.CircuitBreaker(clock=clock)
    with b:
        pass
    ref = weakref.ref(b)
    del b
    gc.collect()
    assert ref() is None


def test_with_methods_are_bound_once_and_keep_no_cycle(clock):
    import gc
    import weakref

    b = tripgate.CircuitBreaker(clock=clock)
    # Bound once per breaker: the same objects on every statement.
    assert b.__enter__ is b.__enter__ and b.__exit__ is b.__exit__
    with b as entered:
        assert entered is b
    with pytest.raises(Boom):
        with b:
            raise Boom()
    snap = b.metrics()
    assert (snap.successes, snap.failures) == (1, 1)
    # The gate holds the breaker weakly: the reference count alone frees it.
    ref = weakref.ref(b)
    gc.disable()
    try:
        del b, entered
        assert ref() is None
    finally:
        gc.enable()


def test_explicit_permits(clock):
    b = tripgate.CircuitBreaker(clock=clock)
    p = b.acquire()
    assert not p.done and not p.is_probe
    p.success()
    assert p.done
    with pytest.raises(RuntimeError, match="already answered"):
        p.failure()
    b.acquire().failure("connection", latency=0.5)
    b.acquire().failure(tripgate.FailureKind.SERVER_ERROR)
    b.acquire().ignore()
    b.acquire().release()
    with pytest.raises(ValueError, match="failure kind"):
        b.acquire().failure("bogus")
    # Dropped unanswered: released (abandoned).
    b.acquire()
    gc.collect()
    m = b.metrics()
    assert (m.successes, m.failures, m.ignored, m.abandoned) == (1, 2, 1, 3)
    assert m.failures_by_kind["connection"] == 1
    # A permit as a context manager.
    with b.acquire() as p:
        pass
    assert p.done
    with pytest.raises(Boom):
        with b.acquire():
            raise Boom()
    assert b.metrics().failures == 3
    with pytest.raises(ValueError, match="latency"):
        b.acquire().success(latency=-1)


def test_generators(clock):
    b = tripgate.CircuitBreaker(clock=clock)

    @b
    def gen(n: int):
        for i in range(n):
            yield i
        return "done"

    @b
    def bad_gen():
        yield 1
        raise Boom()

    g = gen(3)
    assert counts(b) == (0, 0, 0, 0)  # admission when iteration starts
    assert list(g) == [0, 1, 2]
    assert counts(b) == (1, 0, 0, 0)
    with pytest.raises(Boom):
        list(bad_gen())
    g = gen(10)
    next(g)
    g.close()  # GeneratorExit: neutral
    assert counts(b) == (1, 1, 0, 1)
    # send() passes through.

    @b
    def echo():
        x = yield "ready"
        yield x * 2

    e = echo()
    assert next(e) == "ready" and e.send(21) == 42


def test_rejection_counts(clock):
    b = tripgate.CircuitBreaker(clock=clock)
    b.force_open()
    for _ in range(3):
        with pytest.raises(tripgate.CircuitBreakerError):
            b.call(ok)
    assert b.metrics().rejected == 3


def test_breaker_is_collected(clock):
    b = tripgate.CircuitBreaker(listeners=[lambda e: None], clock=clock)

    @b
    def f() -> int:
        return 1

    f()
    ref = weakref.ref(b)
    del b, f
    gc.collect()
    assert ref() is None
