"""asyncio: decorated coroutines and async generators, acall, async with."""

from __future__ import annotations

import asyncio

import pytest

import tripgate
from conftest import Boom, run


def test_decorated_coroutine(clock):
    b = tripgate.CircuitBreaker(fail_max=2, clock=clock)

    @b
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        if x < 0:
            raise Boom()
        return x * 2

    async def main() -> None:
        assert await fetch(2) == 4
        for _ in range(2):
            with pytest.raises(Boom):
                await fetch(-1)
        with pytest.raises(tripgate.CircuitBreakerError):
            await fetch(1)

    import inspect

    assert inspect.iscoroutinefunction(fetch)
    assert fetch.__name__ == "fetch"
    run(main())
    assert b.state == "open"


def test_acall(clock):
    b = tripgate.CircuitBreaker(clock=clock)

    async def f(x, *, y):
        return x + y

    assert run(b.acall(f, 1, y=2)) == 3
    assert b.metrics().successes == 1


def test_cancellation_is_neutral(clock):
    b = tripgate.CircuitBreaker(fail_max=1, clock=clock)

    @b
    async def hang() -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        t = asyncio.ensure_future(hang())
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    run(main())
    m = b.metrics()
    assert b.state == "closed" and m.failures == 0 and m.abandoned == 1


def test_asyncio_timeout_is_a_timeout_failure(clock):
    b = tripgate.CircuitBreaker(clock=clock)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            async with b:
                await asyncio.wait_for(asyncio.Event().wait(), 0.001)

    run(main())
    assert b.metrics().failures_by_kind["timeout"] == 1


def test_async_with_interleaved_tasks_pair_their_permits(clock):
    b = tripgate.CircuitBreaker(fail_max=5, half_open_permits=1, clock=clock)

    async def task(fail: bool, gate: asyncio.Event) -> None:
        async with b:
            await gate.wait()
            if fail:
                raise Boom()

    async def main() -> None:
        g1, g2 = asyncio.Event(), asyncio.Event()
        t1 = asyncio.ensure_future(task(True, g1))
        t2 = asyncio.ensure_future(task(False, g2))
        await asyncio.sleep(0)
        g1.set()  # the first task exits first although the second entered last
        with pytest.raises(Boom):
            await t1
        g2.set()
        await t2

    run(main())
    m = b.metrics()
    assert (m.successes, m.failures) == (1, 1)


def test_async_with_rejects_when_open(clock):
    b = tripgate.CircuitBreaker(clock=clock)
    b.force_open()

    async def main() -> None:
        with pytest.raises(tripgate.CircuitBreakerError):
            async with b:
                pytest.fail("must not run")

    run(main())


def test_async_generator(clock):
    b = tripgate.CircuitBreaker(clock=clock)

    @b
    async def agen(n: int):
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    @b
    async def bad():
        yield 1
        raise Boom()

    async def main() -> None:
        assert [i async for i in agen(3)] == [0, 1, 2]
        with pytest.raises(Boom):
            async for _ in bad():
                pass

    run(main())
    m = b.metrics()
    assert (m.successes, m.failures) == (1, 1)


def test_probe_in_half_open_from_tasks(clock):
    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=1, half_open_permits=1, clock=clock)
    b.force_open()
    b.reset()
    with pytest.raises(Boom):
        b.call(lambda: (_ for _ in ()).throw(Boom()))
    clock.advance(1)

    async def probe(gate: asyncio.Event) -> str:
        try:
            async with b:
                await gate.wait()
                return "ran"
        except tripgate.CircuitBreakerError:
            return "rejected"

    async def main() -> list[str]:
        gate = asyncio.Event()
        tasks = [asyncio.ensure_future(probe(gate)) for _ in range(5)]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*tasks)

    results = run(main())
    assert results.count("ran") == 1 and results.count("rejected") == 4
    assert b.state == "closed"
