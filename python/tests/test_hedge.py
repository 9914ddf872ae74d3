"""Hedged calls (asyncio) with a hand-fired timer: no test waits on real time."""

from __future__ import annotations

import asyncio
import pickle

import pytest

import tripgate
from conftest import Boom, HandFiredSleeps


class Leg:
    """A controllable async call: records starts and cancellations, answers on demand."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = 0
        self.running = 0
        self.max_running = 0
        self.cancelled = 0
        self.gate: asyncio.Future[object] | None = None
        self.answers: list[asyncio.Future[object]] = []

    async def __call__(self, *args: object) -> object:
        self.started += 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.answers.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1

    def answer(self, value: object = None, *, index: int = -1) -> None:
        self.answers[index].set_result(value if value is not None else f"{self.name}-value")

    def fail(self, exc: BaseException, *, index: int = -1) -> None:
        self.answers[index].set_exception(exc)


async def turns(n: int = 10) -> None:
    """Lets the event loop run every ready task a few times (no real time passes)."""
    for _ in range(n):
        await asyncio.sleep(0)


def setup(clock, **options):
    p = tripgate.CircuitBreaker(clock=clock, name="primary")
    s = tripgate.CircuitBreaker(clock=clock, name="secondary")
    timers = HandFiredSleeps()
    options.setdefault("delay", 0.05)
    h = tripgate.hedge(p, s, sleep=timers, clock=clock, **options)
    return p, s, h, timers


def test_fast_primary_needs_no_hedge(clock):
    p, s, h, timers = setup(clock)

    async def primary(key):
        return f"primary:{key}"

    async def secondary(key):
        raise AssertionError("the secondary must not start")

    answer = asyncio.run(h.call(primary, secondary, "k"))
    assert answer == tripgate.Hedged("primary:k", tripgate.Leg.PRIMARY, False)
    assert timers.delays == [0.05] and timers.pending == 0  # the timer was cancelled
    assert p.metrics().successes == 1 and s.metrics().calls == 0
    m = h.metrics()
    assert (m.hedges, m.secondary_wins, m.losers_cancelled, m.in_flight, m.delay) == (0, 0, 0, 0, 0.05)


def test_hedge_fires_only_after_the_delay_and_the_loser_is_cancelled(clock):
    p, s, h, timers = setup(clock)
    primary, secondary = Leg("primary"), Leg("secondary")

    async def main():
        call = asyncio.ensure_future(h.call(primary, secondary))
        await turns()
        # The primary runs alone for as long as the delay has not passed.
        assert (primary.started, secondary.started) == (1, 0)
        assert timers.delays == [0.05]
        await turns()
        assert secondary.started == 0 and h.metrics().hedges == 0
        timers.fire()  # the delay passes
        await turns()
        assert secondary.started == 1 and h.metrics().in_flight == 1
        secondary.answer("fast")
        answer = await call
        await turns()
        return answer

    answer = asyncio.run(main())
    assert (answer.value, answer.answered_by, answer.hedged) == ("fast", "secondary", True)
    assert primary.cancelled == 1 and primary.running == 0  # the loser was cancelled
    pm, sm = p.metrics(), s.metrics()
    # The loser is recorded as ignored: neither a failure nor a success.
    assert (pm.ignored, pm.failures, pm.successes, pm.abandoned) == (1, 0, 0, 0)
    assert (sm.successes, sm.ignored) == (1, 0)
    m = h.metrics()
    assert (m.hedges, m.secondary_wins, m.losers_cancelled, m.in_flight) == (1, 1, 1, 0)


def test_primary_can_still_win_after_the_hedge_starts(clock):
    p, s, h, timers = setup(clock)
    primary, secondary = Leg("primary"), Leg("secondary")

    async def main():
        call = asyncio.ensure_future(h.call(primary, secondary))
        await turns()
        timers.fire()
        await turns()
        primary.answer("slow but first")
        answer = await call
        await turns()
        return answer

    answer = asyncio.run(main())
    assert (answer.value, answer.answered_by, answer.hedged) == ("slow but first", "primary", True)
    assert secondary.cancelled == 1
    assert p.metrics().successes == 1 and s.metrics().ignored == 1 and s.metrics().successes == 0
    m = h.metrics()
    assert (m.hedges, m.secondary_wins, m.losers_cancelled, m.in_flight) == (1, 0, 1, 0)


def test_cap_bounds_the_secondaries_in_flight(clock):
    p, s, h, timers = setup(clock, max_in_flight=2)
    primary, secondary = Leg("primary"), Leg("secondary")
    n = 6

    async def main():
        calls = [asyncio.ensure_future(h.call(primary, secondary, i)) for i in range(n)]
        await turns()
        assert primary.started == n and timers.pending == n
        timers.fire()  # every call reaches its delay together
        await turns()
        assert secondary.started == 2 and secondary.running == 2
        m = h.metrics()
        assert (m.hedges, m.capped, m.in_flight) == (2, n - 2, 2)
        # A secondary answering frees its place under the cap ...
        secondary.answer(index=0)
        await turns()
        assert h.metrics().in_flight == 1
        # ... but a call past its delay does not hedge later: the capped calls wait on
        # their primaries.
        assert secondary.started == 2
        secondary.answer(index=1)
        await turns()
        for i, fut in enumerate(primary.answers):
            if not fut.done():
                fut.set_result(f"p{i}")
        return await asyncio.gather(*calls)

    answers = asyncio.run(main())
    assert secondary.max_running == 2
    assert sorted(a.answered_by for a in answers).count("secondary") == 2
    capped = [a for a in answers if a.answered_by == "primary"]
    assert len(capped) == n - 2 and not any(a.hedged for a in capped)
    assert h.metrics().in_flight == 0 and p.metrics().ignored == 2


def test_cap_zero_turns_hedging_off(clock):
    p, s, h, timers = setup(clock, max_in_flight=0)
    primary, secondary = Leg("primary"), Leg("secondary")

    async def main():
        call = asyncio.ensure_future(h.call(primary, secondary))
        await turns()
        timers.fire()
        await turns()
        primary.answer("only")
        return await call

    assert asyncio.run(main()).hedged is False
    assert secondary.started == 0 and h.metrics().capped == 1


def test_primary_failing_before_the_delay_raises_without_a_hedge(clock):
    p, s, h, timers = setup(clock)
    primary, secondary = Leg("primary"), Leg("secondary")

    async def main():
        call = asyncio.ensure_future(h.call(primary, secondary))
        await turns()
        primary.fail(Boom("down"))
        with pytest.raises(tripgate.HedgeError) as info:
            await call
        return info.value

    e = asyncio.run(main())
    assert isinstance(e.primary, Boom) and e.secondary is None and not e.primary_rejected
    assert e.__cause__ is e.primary
    assert secondary.started == 0 and timers.pending == 0
    assert p.metrics().failures == 1 and s.metrics().calls == 0


def test_rejected_primary_raises_at_once(clock):
    p, s, h, timers = setup(clock)
    p.force_open()
    primary, secondary = Leg("primary"), Leg("secondary")
    with pytest.raises(tripgate.HedgeError) as info:
        asyncio.run(h.call(primary, secondary))
    assert info.value.primary_rejected and isinstance(info.value.primary, tripgate.CircuitBreakerError)
    assert primary.started == secondary.started == 0 and timers.delays == []


def test_rejected_secondary_leaves_the_primary_running(clock):
    p, s, h, timers = setup(clock)
    s.force_open()
    primary, secondary = Leg("primary"), Leg("secondary")

    async def main(fail: bool):
        call = asyncio.ensure_future(h.call(primary, secondary))
        await turns()
        timers.fire()
        await turns()
        if fail:
            primary.fail(Boom())
        else:
            primary.answer("late")
        return await call

    answer = asyncio.run(main(False))
    assert (answer.value, answer.answered_by, answer.hedged) == ("late", "primary", False)
    with pytest.raises(tripgate.HedgeError) as info:
        asyncio.run(main(True))
    e = info.value
    assert isinstance(e.primary, Boom) and e.secondary_rejected and isinstance(e.secondary, tripgate.CircuitBreakerError)
    assert secondary.started == 0
    m = h.metrics()
    assert (m.hedges, m.secondary_rejected, m.in_flight) == (0, 2, 0)


def test_a_failure_does_not_end_the_race(clock):
    p, s, h, timers = setup(clock)
    primary, secondary = Leg("primary"), Leg("secondary")

    async def main(both_fail: bool):
        call = asyncio.ensure_future(h.call(primary, secondary))
        await turns()
        timers.fire()
        await turns()
        secondary.fail(ConnectionError("replica down"))
        await turns()
        assert not call.done() and h.metrics().in_flight == 0
        if both_fail:
            primary.fail(Boom())
        else:
            primary.answer("primary")
        return await call

    answer = asyncio.run(main(False))
    assert (answer.answered_by, answer.hedged) == ("primary", True)
    with pytest.raises(tripgate.HedgeError) as info:
        asyncio.run(main(True))
    e = info.value
    assert isinstance(e.primary, Boom) and isinstance(e.secondary, ConnectionError)
    assert e.__cause__ is e.secondary and not e.secondary_rejected
    copy = pickle.loads(pickle.dumps(e))
    assert str(copy) == str(e) and isinstance(copy.secondary, ConnectionError)
    assert s.metrics().failures_by_kind["connection"] == 2
    assert p.metrics().successes == 1 and p.metrics().failures == 1
    assert h.metrics().losers_cancelled == 0


def test_both_answering_in_one_turn_prefers_the_primary(clock):
    p, s, h, timers = setup(clock)
    primary, secondary = Leg("primary"), Leg("secondary")

    async def main():
        call = asyncio.ensure_future(h.call(primary, secondary))
        await turns()
        timers.fire()
        await turns()
        primary.answer("p")
        secondary.answer("s")
        return await call

    answer = asyncio.run(main())
    assert answer.answered_by == "primary"
    # Both answered: each is recorded as what it was; nothing was cancelled.
    assert p.metrics().successes == 1 and s.metrics().successes == 1
    assert h.metrics().losers_cancelled == 0 and secondary.cancelled == 0


def test_cancelling_the_call_cancels_every_leg_as_ignored(clock):
    p, s, h, timers = setup(clock)
    primary, secondary = Leg("primary"), Leg("secondary")

    async def main():
        call = asyncio.ensure_future(h.call(primary, secondary))
        await turns()
        timers.fire()
        await turns()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await turns()

    asyncio.run(main())
    assert primary.cancelled == 1 and secondary.cancelled == 1
    assert p.metrics().ignored == 1 and s.metrics().ignored == 1
    assert p.metrics().failures == s.metrics().failures == 0
    assert h.metrics().in_flight == 0


def test_percentile_delay_reads_the_primary_window_with_floor_ceiling_and_refresh(clock):
    p = tripgate.CircuitBreaker(clock=clock)
    s = tripgate.CircuitBreaker(clock=clock)
    timers = HandFiredSleeps()
    h = tripgate.hedge(
        p, s, delay="p95", floor=0.02, ceiling=0.5, refresh=1.0, min_samples=20, sleep=timers, clock=clock
    )
    # Too few samples: the ceiling.
    for _ in range(19):
        p.acquire().success(latency=0.1)
    assert h.current_delay() == 0.5
    # Cached until `refresh` passes, even though the window now has enough samples.
    p.reset()
    for i in range(1, 101):
        p.acquire().success(latency=i / 1000)
    assert h.current_delay() == 0.5
    clock.advance(1)
    expected = tripgate._core._breaker_latency(p)["p95"]
    assert h.current_delay() == expected == pytest.approx(0.095, rel=0.02)
    assert h.metrics().delay == expected

    async def primary():
        return 1

    asyncio.run(h.call(primary, primary))
    assert timers.delays == [expected]

    # Clamped to the floor and the ceiling.
    p.reset()
    for _ in range(50):
        p.acquire().success(latency=0.001)
    clock.advance(1)
    assert h.current_delay() == 0.02
    for _ in range(500):
        p.acquire().success(latency=3.0)
    clock.advance(1)
    assert h.current_delay() == 0.5


def test_percentile_delay_without_latency_tracking_is_the_ceiling(clock):
    p = tripgate.CircuitBreaker(clock=clock, track_latency=False)
    for _ in range(50):
        p.acquire().success()
    h = tripgate.hedge(p, tripgate.CircuitBreaker(clock=clock), delay="p99", floor=0.01, ceiling=0.3, clock=clock)
    assert h.current_delay() == 0.3


def test_hedge_options_are_checked(clock):
    p = tripgate.CircuitBreaker(clock=clock)
    with pytest.raises(ValueError, match="invalid delay = 'p42': allowed a number of seconds >= 0 or one of p50"):
        tripgate.hedge(p, p, delay="p42")
    with pytest.raises(ValueError, match="invalid delay = -1"):
        tripgate.hedge(p, p, delay=-1)
    with pytest.raises(TypeError, match="needs floor and ceiling"):
        tripgate.hedge(p, p, delay="p95", floor=0.01)
    with pytest.raises(TypeError, match="percentile delay"):
        tripgate.hedge(p, p, delay=0.1, ceiling=1)
    with pytest.raises(ValueError, match=r"invalid ceiling = 0.01: allowed a number of seconds >= floor \(0.1\)"):
        tripgate.hedge(p, p, delay="p95", floor=0.1, ceiling=0.01)
    with pytest.raises(ValueError, match="invalid max_in_flight = -1: allowed 0..="):
        tripgate.hedge(p, p, delay=0.1, max_in_flight=-1)
    with pytest.raises(TypeError, match="max_in_flight must be an int"):
        tripgate.hedge(p, p, delay=0.1, max_in_flight=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="secondary must be a tripgate.CircuitBreaker"):
        tripgate.hedge(p, None, delay=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sleep must be a callable"):
        tripgate.hedge(p, p, delay=0.1, sleep=1)  # type: ignore[arg-type]
    h = tripgate.Hedge(p, p, delay=0.1)
    assert h.primary is p and h.secondary is p and h.max_in_flight == 8
    assert "delay=0.1s" in repr(h)


def test_hedge_with_real_sleep(clock):
    """The default sleep is asyncio.sleep: a 1 ms delay, a primary that never answers."""
    p, s = tripgate.CircuitBreaker(clock=clock), tripgate.CircuitBreaker(clock=clock)
    h = tripgate.hedge(p, s, delay=0.001)

    async def hang():
        await asyncio.Event().wait()

    async def fast():
        return "s"

    answer = asyncio.run(h.call(hang, fast))
    assert (answer.answered_by, answer.hedged) == ("secondary", True)
