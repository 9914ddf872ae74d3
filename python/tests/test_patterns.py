"""Fallback chains (sync and async) and the graduated cache, on manual clocks."""

from __future__ import annotations

import asyncio
import pickle

import pytest

import tripgate
from conftest import Boom, run


class Fatal(BaseException):
    """Not an Exception: must propagate through every pattern."""


def breaker(clock, **options) -> tripgate.CircuitBreaker:
    return tripgate.CircuitBreaker(clock=clock, **options)


# ------------------------------------------------------------------ fallback chain


def test_first_step_answers_and_later_steps_are_not_touched(clock):
    primary, backup = breaker(clock, name="primary"), breaker(clock, name="backup")
    calls = []

    def fetch(key):
        calls.append(("primary", key))
        return f"live:{key}"

    chain = tripgate.fallback(("primary", primary, fetch), ("backup", backup, lambda key: f"backup:{key}"))
    answer = chain("k")
    assert answer == tripgate.Answer("live:k", 0, "primary", ())
    assert calls == [("primary", "k")]
    assert primary.metrics().successes == 1
    assert backup.metrics().calls == 0 and backup.metrics().rejected == 0


def test_rejected_step_moves_on_and_the_answer_names_the_step(clock):
    primary, backup = breaker(clock, name="primary"), breaker(clock)
    primary.force_open()
    ran = []
    answer = tripgate.fallback(
        ("primary", primary, lambda: ran.append("primary")),
        ("backup", backup, lambda: "from backup"),
        ("cache", lambda: "cached"),
    ).call()
    assert (answer.value, answer.index, answer.name) == ("from backup", 1, "backup")
    assert ran == []  # the rejected step's call never ran
    [err] = answer.errors
    assert (err.index, err.name, err.rejected) == (0, "primary", True)
    assert isinstance(err.error, tripgate.CircuitBreakerError) and err.error.name == "primary"
    assert primary.metrics().rejected == 1 and primary.metrics().calls == 0
    assert backup.metrics().successes == 1


def test_failed_step_is_recorded_and_moves_on(clock):
    primary = breaker(clock, fail_max=2)

    def down():
        raise ConnectionError("refused")

    chain = tripgate.fallback(tripgate.Step("primary", down, primary), tripgate.Step("cache", lambda: 7))
    answer = chain()
    assert (answer.value, answer.name) == (7, "cache")
    [err] = answer.errors
    assert not err.rejected and isinstance(err.error, ConnectionError)
    assert primary.metrics().failures_by_kind["connection"] == 1
    # Once the breaker trips, the chain keeps answering from the cache without calling it.
    chain()
    assert primary.state == "open"
    answer = chain()
    assert answer.name == "cache" and answer.errors[0].rejected
    assert primary.metrics().failures == 2


def test_every_step_failing_raises_fallback_error(clock):
    a, b = breaker(clock), breaker(clock)
    b.force_open()
    last = Boom("cache miss")

    def miss():
        raise last

    with pytest.raises(tripgate.FallbackError) as info:
        tripgate.fallback(("a", a, lambda: 1 / 0), ("b", b, lambda: 2), ("cache", miss))()
    e = info.value
    assert [(x.index, x.name, x.rejected) for x in e.errors] == [(0, "a", False), (1, "b", True), (2, "cache", False)]
    assert isinstance(e.errors[0].error, ZeroDivisionError)
    assert e.__cause__ is last
    assert "step 1 (b) rejected" in str(e)
    assert a.metrics().failures == 1
    copy = pickle.loads(pickle.dumps(e))
    assert [x.name for x in copy.errors] == ["a", "b", "cache"]


def test_steps_get_the_calls_arguments(clock):
    chain = tripgate.fallback(
        ("a", breaker(clock), lambda x, *, y: (_ for _ in ()).throw(Boom())),
        ("b", lambda x, *, y: x + y),
    )
    assert chain(1, y=2).value == 3
    assert chain.call(10, y=5).value == 15


def test_breaker_rules_apply_to_steps(clock):
    b = breaker(clock, exclude=[KeyError])

    def lookup():
        raise KeyError("k")

    answer = tripgate.fallback(("db", b, lookup), ("default", lambda: None))()
    assert answer.name == "default"
    m = b.metrics()
    assert m.ignored == 1 and m.failures == 0  # excluded by the breaker, yet the chain moved on


def test_full_bulkhead_inside_a_step_is_ignored_by_its_breaker(clock):
    b = breaker(clock)
    bulkhead = tripgate.Bulkhead(1)

    @bulkhead
    def fetch():
        return "live"

    with bulkhead:  # the only slot is taken
        answer = tripgate.fallback(("live", b, fetch), ("cache", lambda: "cached"))()
    assert answer.name == "cache" and isinstance(answer.errors[0].error, tripgate.BulkheadFullError)
    m = b.metrics()
    assert m.ignored == 1 and m.failures == 0


def test_base_exceptions_propagate_and_release_the_permit(clock):
    b = breaker(clock)

    def interrupted():
        raise Fatal()

    chain = tripgate.fallback(("a", b, interrupted), ("b", lambda: 1))
    with pytest.raises(Fatal):
        chain()
    assert b.metrics().abandoned == 1 and b.metrics().failures == 0


def test_sync_call_refuses_async_steps(clock):
    b = breaker(clock)

    async def fetch():
        return 1

    with pytest.raises(TypeError, match="acall"):
        tripgate.fallback(("a", b, fetch))()
    assert b.metrics().abandoned == 1 and b.metrics().calls == 0


def test_step_specs_are_checked(clock):
    with pytest.raises(ValueError, match="at least one step"):
        tripgate.fallback()
    with pytest.raises(TypeError, match="step 0 must be"):
        tripgate.fallback("primary")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="func must be callable"):
        tripgate.fallback(("a", breaker(clock), 42))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="breaker must be a tripgate.CircuitBreaker or None"):
        tripgate.Step("a", lambda: 1, "not a breaker")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name must be a str"):
        tripgate.Step(1, lambda: 1)  # type: ignore[arg-type]
    chain = tripgate.fallback(tripgate.Step("a", lambda: 1), ("b", None, lambda: 2))
    assert [s.name for s in chain.steps] == ["a", "b"] and chain.steps[1].breaker is None
    assert repr(chain) == "<FallbackChain a -> b>"


def test_async_chain_mixes_async_and_sync_steps(clock):
    primary, replica = breaker(clock), breaker(clock)
    cache = {"k": "cached"}

    async def from_primary(key):
        await asyncio.sleep(0)
        raise TimeoutError("slow")

    async def from_replica(key):
        await asyncio.sleep(0)
        return f"replica:{key}"

    chain = tripgate.fallback(("primary", primary, from_primary), ("replica", replica, from_replica), ("cache", cache.get))

    async def main():
        answer = await chain.acall("k")
        assert (answer.value, answer.name, answer.index) == ("replica:k", "replica", 1)
        assert isinstance(answer.errors[0].error, TimeoutError)
        replica.force_open()
        answer = await chain.acall("k")
        assert (answer.value, answer.name) == ("cached", "cache")
        assert [e.rejected for e in answer.errors] == [False, True]

    run(main())
    assert primary.metrics().failures_by_kind["timeout"] == 2
    assert replica.metrics().successes == 1 and replica.metrics().rejected == 1


def test_async_chain_all_failing_and_cancellation(clock):
    b = breaker(clock)

    async def fail():
        raise Boom()

    async def hang():
        await asyncio.Event().wait()

    async def main():
        with pytest.raises(tripgate.FallbackError) as info:
            await tripgate.fallback(("a", b, fail), ("b", fail)).acall()
        assert len(info.value.errors) == 2
        task = asyncio.ensure_future(tripgate.fallback(("slow", b, hang), ("cache", lambda: 1)).acall())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    m = b.metrics()
    assert m.failures == 1 and m.abandoned == 1  # the cancelled step is released, not counted


# -------------------------------------------------------------- graduated cache


def test_graduated_cache_serves_each_tier_at_the_right_ages(clock):
    b = breaker(clock, fail_max=100)
    cache = tripgate.GraduatedCache(recent=300, stale=3600, default="n/a", clock=clock)

    def down(key):
        raise ConnectionError("down")

    served = cache.call("apple", b, lambda key: f"price of {key}", "apple")
    assert served == tripgate.Served("price of apple", tripgate.CacheTier.LIVE, 0.0)
    assert len(cache) == 1

    def tier_after(seconds):
        clock.advance(seconds)
        s = cache.call("apple", b, down, "apple")
        assert isinstance(s.error, ConnectionError)
        return s.tier, s.age

    assert tier_after(0) == ("recent", 0.0)
    assert tier_after(300) == ("recent", 300.0)  # exactly `recent` old: still recent
    assert tier_after(1e-3) == ("stale", pytest.approx(300.001))
    assert tier_after(3300 - 1e-3) == ("stale", pytest.approx(3600.0))  # exactly `stale` old
    tier, age = tier_after(1e-3)
    assert (tier, age) == ("default", None)
    assert cache.call("apple", b, down, "apple").value == "n/a"
    # A fresh live answer restarts the ages.
    assert cache.call("apple", b, lambda: "new").tier == tripgate.CacheTier.LIVE
    assert cache.serve("apple") == tripgate.Served("new", "recent", 0.0)
    assert b.metrics().failures == 6 and b.metrics().successes == 2


def test_graduated_cache_without_default_fails_with_the_live_error(clock):
    b = breaker(clock)
    cache: tripgate.GraduatedCache[str, int] = tripgate.GraduatedCache(recent=1, stale=2, clock=clock)
    assert not cache.has_default
    live = Boom("down")

    def down():
        raise live

    with pytest.raises(tripgate.GraduatedError) as info:
        cache.call("k", b, down)
    e = info.value
    assert (e.key, e.live, e.rejected) == ("k", live, False) and e.__cause__ is live
    b.force_open()
    with pytest.raises(tripgate.GraduatedError) as info:
        cache.call("k", b, lambda: 1)
    assert info.value.rejected and isinstance(info.value.live, tripgate.CircuitBreakerError)
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.key == "k" and copy.rejected


def test_graduated_cache_serves_when_the_breaker_rejects(clock):
    b = breaker(clock)
    cache = tripgate.GraduatedCache(recent=10, stale=20, clock=clock)
    cache.insert("k", 1)
    b.force_open()
    clock.advance(15)
    served = cache.call("k", b, lambda: 2)
    assert (served.value, served.tier, served.age) == (1, "stale", 15.0)
    assert isinstance(served.error, tripgate.CircuitBreakerError)
    assert b.metrics().rejected == 1


def test_graduated_cache_capacity_purge_and_clear(clock):
    cache = tripgate.GraduatedCache(recent=1, stale=10, capacity=2, clock=clock)
    cache.insert("a", 1)
    clock.advance(1)
    cache.insert("b", 2)
    cache.insert("c", 3)  # full: the oldest (a) goes
    assert cache.serve("a") is None and cache.serve("b").value == 2 and len(cache) == 2
    clock.advance(5)
    cache.insert("b", 20)  # an existing key: nothing goes
    assert len(cache) == 2 and cache.serve("c").value == 3
    clock.advance(5.5)
    cache.insert("d", 4)  # c (10.5 s old) is stale and goes first; b (5.5 s) stays
    assert cache.serve("c") is None and cache.serve("b").value == 20 and len(cache) == 2
    clock.advance(10)
    assert cache.purge() == 1 and len(cache) == 1  # b (15.5 s) is stale now; d (10 s) is not
    cache.clear()
    assert len(cache) == 0


def test_graduated_cache_unguarded_and_async(clock):
    cache = tripgate.GraduatedCache(recent=5, stale=50, default=0, clock=clock)
    b = breaker(clock)

    async def fetch(key):
        await asyncio.sleep(0)
        return len(key)

    async def fail(key):
        raise Boom()

    async def hang(key):
        await asyncio.Event().wait()

    async def main():
        assert (await cache.acall("abc", b, fetch, "abc")).tier == "live"
        clock.advance(6)
        served = await cache.acall("abc", b, fail, "abc")
        assert (served.value, served.tier) == (3, "stale")
        assert (await cache.acall("zz", None, fail, "zz")).tier == "default"
        task = asyncio.ensure_future(cache.acall("abc", b, hang, "abc"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    m = b.metrics()
    assert (m.successes, m.failures, m.abandoned) == (1, 1, 1)
    assert cache.call("x", None, lambda: "live").tier == "live"
    with pytest.raises(TypeError, match="acall"):
        cache.call("x", b, fetch, "x")


def test_graduated_cache_options_are_checked(clock):
    with pytest.raises(ValueError, match=r"invalid stale = 1: allowed a number of seconds >= recent \(2\)"):
        tripgate.GraduatedCache(recent=2, stale=1)
    with pytest.raises(ValueError, match="invalid recent = -1"):
        tripgate.GraduatedCache(recent=-1, stale=1)
    with pytest.raises(TypeError, match="recent must be a number of seconds"):
        tripgate.GraduatedCache(recent="5m", stale=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid capacity = 0: allowed 1..="):
        tripgate.GraduatedCache(recent=1, stale=1, capacity=0)
    with pytest.raises(TypeError, match="clock must be"):
        tripgate.GraduatedCache(recent=1, stale=1, clock=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="breaker must be"):
        tripgate.GraduatedCache(recent=1, stale=1).call("k", object(), lambda: 1)  # type: ignore[arg-type]
    c = tripgate.GraduatedCache(recent=1, stale=2, clock=lambda: 100.0)
    assert (c.recent, c.stale, c.capacity) == (1.0, 2.0, 10_000)
    c.insert("k", 1)
    assert c.serve("k").age == 0.0


def test_base_exceptions_propagate_through_the_cache(clock):
    b = breaker(clock)
    cache = tripgate.GraduatedCache(recent=1, stale=1, default=0, clock=clock)

    def interrupted():
        raise Fatal()

    with pytest.raises(Fatal):
        cache.call("k", b, interrupted)
    assert b.metrics().abandoned == 1
