"""call_timeout: async guards cut a call short at its deadline, any guarded call ending
past it counts as a timeout, and an outside cancellation counts as a timeout once the
call ran past its deadline or slow_call_duration (released, counted neither way, before).

The async cases wait on asyncio's own timers (the feature under test) with margins of
10x or more between the breaker's deadline and the caller's; the engine's rules are
driven by a ManualClock where no event loop is involved.
"""

from __future__ import annotations

import asyncio

import pytest

import tripgate


async def hang() -> None:
    await asyncio.Event().wait()  # never set: a dependency that never answers


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_acall_is_cut_short_at_the_call_timeout_and_trips_the_breaker() -> None:
    b = tripgate.CircuitBreaker(fail_max=3, call_timeout=0.01)

    async def main() -> None:
        for _ in range(3):
            with pytest.raises(TimeoutError):
                await b.acall(hang)
        with pytest.raises(tripgate.CircuitBreakerError):
            await b.acall(hang)

    run(main())
    m = b.metrics()
    assert (m.failures_by_kind["timeout"], m.abandoned, m.state) == (3, 0, "open")


def test_wait_for_around_acall_trips_the_breaker_when_the_breaker_times_out_first() -> None:
    b = tripgate.CircuitBreaker(fail_max=2, call_timeout=0.01)

    async def main() -> None:
        for _ in range(2):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(b.acall(hang), 1.0)

    run(main())
    assert (b.metrics().failures_by_kind["timeout"], b.state) == (2, "open")


def test_an_outside_cancellation_past_slow_call_duration_is_a_timeout_and_before_it_is_released() -> None:
    slow = tripgate.CircuitBreaker(fail_max=2, slow_call_duration=0.005)
    patient = tripgate.CircuitBreaker(fail_max=2)  # slow_call_duration 5 s, no call_timeout

    async def main() -> None:
        for b in (slow, patient):
            for _ in range(2):
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(b.acall(hang), 0.05)

    run(main())
    s, p = slow.metrics(), patient.metrics()
    assert (s.failures_by_kind["timeout"], s.abandoned, slow.state) == (2, 0, "open")
    assert (p.failures, p.abandoned, patient.state) == (0, 2, "closed")


def test_async_with_is_cut_short_too_and_an_asyncio_timeout_inside_counts_past_the_slow_threshold() -> None:
    timed = tripgate.CircuitBreaker(fail_max=5, call_timeout=0.01)
    slow = tripgate.CircuitBreaker(fail_max=5, slow_call_duration=0.005)

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with timed:
                await hang()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                async with slow:
                    await hang()
        async with timed:  # a quick block is a success
            await asyncio.sleep(0)

    run(main())
    t = timed.metrics()
    assert (t.failures_by_kind["timeout"], t.successes, t.abandoned) == (1, 1, 0)
    assert slow.metrics().failures_by_kind["timeout"] == 1


def test_a_decorated_coroutine_is_cut_short() -> None:
    b = tripgate.CircuitBreaker(call_timeout="10ms")

    @b
    async def fetch() -> None:
        await hang()

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await fetch()

    run(main())
    assert b.metrics().failures_by_kind["timeout"] == 1


def test_a_sync_call_that_outlives_its_deadline_is_a_timeout_and_keeps_its_result(clock: tripgate.ManualClock) -> None:
    b = tripgate.CircuitBreaker(call_timeout=0.5, clock=clock)

    def slow_answer() -> str:
        clock.advance(0.5)
        return "late"

    assert b.call(slow_answer) == "late"
    assert b.call(lambda: "quick") == "quick"
    with b:
        clock.advance(1)
    m = b.metrics()
    assert (m.failures_by_kind["timeout"], m.successes) == (2, 1)


def test_a_permit_reads_the_time_left(clock: tripgate.ManualClock) -> None:
    b = tripgate.CircuitBreaker(call_timeout="250ms", clock=clock)
    p = b.acquire()
    assert p.time_left == pytest.approx(0.25)
    clock.advance(0.2)
    assert p.time_left == pytest.approx(0.05)
    clock.advance(1)
    assert p.time_left == 0.0
    p.success()  # a manual answer counts as given
    assert p.time_left is None
    assert tripgate.CircuitBreaker(clock=clock).acquire().time_left is None
    assert b.metrics().successes == 1


def test_call_timeout_is_checked_and_can_be_changed_live(clock: tripgate.ManualClock) -> None:
    for bad in (-1, float("nan"), 10**400):
        with pytest.raises(ValueError, match="call_timeout"):
            tripgate.CircuitBreaker(call_timeout=bad)
    b = tripgate.CircuitBreaker(clock=clock)
    b.reconfigure(call_timeout=1)
    assert b.acquire().time_left == pytest.approx(1.0)
    b.reconfigure(call_timeout=None)
    assert b.acquire().time_left is None
