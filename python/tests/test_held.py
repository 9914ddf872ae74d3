"""`with breaker:` permits: each statement gets its own back, whatever interleaves it
(generators, async generators, threads), and nothing outlives the breaker."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
import threading

import pytest

import tripgate

from conftest import Boom


def counting_breaker(**options: object) -> tripgate.CircuitBreaker:
    # Counts only: a window large enough that nothing trips.
    return tripgate.CircuitBreaker(fail_max=10**6, **options)  # type: ignore[arg-type]


def test_generators_interleaving_with_blocks_on_one_thread_keep_their_own_permits():
    b = counting_breaker(track_latency=False)

    def step(fail: bool):
        with b:
            yield
            if fail:
                raise Boom()

    ok, bad = step(False), step(True)
    next(ok)
    next(bad)  # entered after ok: a per-thread stack would hand ok's exit bad's permit
    assert b._held_count == 2
    with pytest.raises(StopIteration):
        next(ok)  # ok's block ends first, with success
    assert b._held_count == 1
    with pytest.raises(Boom):
        next(bad)
    m = b.metrics()
    assert (m.successes, m.failures, m.abandoned) == (1, 1, 0)
    assert b._held_count == 0


def test_a_generator_resumed_on_another_thread_settles_its_own_permit():
    b = counting_breaker()

    def body():
        with b:
            yield
            raise Boom()

    gen = body()
    next(gen)
    errors: list[BaseException] = []

    def finish() -> None:
        try:
            next(gen)
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    t = threading.Thread(target=finish)
    t.start()
    t.join(5)
    assert len(errors) == 1 and isinstance(errors[0], Boom)
    assert (b.metrics().failures, b._held_count) == (1, 0)


def test_exit_on_another_thread_without_an_entry_raises_and_settles_nothing():
    b = counting_breaker()
    b.__enter__()
    errors: list[BaseException] = []

    def stray_exit() -> None:
        try:
            b.__exit__(None, None, None)
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    t = threading.Thread(target=stray_exit)
    t.start()
    t.join(5)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert "without a matching __enter__" in str(errors[0])
    assert (b.metrics().calls, b._held_count) == (0, 1)
    b.__exit__(None, None, None)  # the entering thread still settles it
    assert (b.metrics().successes, b._held_count) == (1, 0)


def test_a_new_breaker_never_settles_a_dropped_breakers_permit():
    # A breaker entered and dropped, then many new ones: whichever takes its address,
    # a stray __exit__ on it has nothing to settle.
    old = counting_breaker()
    old.__enter__()
    del old
    gc.collect()
    for _ in range(100):
        b = counting_breaker()
        with pytest.raises(RuntimeError, match="without a matching __enter__"):
            b.__exit__(None, None, None)
        assert b.metrics().calls == 0


def test_exit_stack_pairs_entries_made_through_a_helper():
    b = counting_breaker()
    with pytest.raises(Boom):
        with contextlib.ExitStack() as stack:
            stack.enter_context(b)
            stack.enter_context(b)
            raise Boom()
    m = b.metrics()
    assert (m.failures, m.abandoned, b._held_count) == (2, 0, 0)


def test_async_generators_interleaving_async_with_keep_their_own_permits():
    b = counting_breaker()

    async def step(fail: bool):
        async with b:
            yield
            if fail:
                raise Boom()

    async def main() -> None:
        ok, bad = step(False), step(True)
        await ok.__anext__()
        await bad.__anext__()
        with pytest.raises(StopAsyncIteration):
            await ok.__anext__()
        with pytest.raises(Boom):
            await bad.__anext__()

    asyncio.run(main())
    m = b.metrics()
    assert (m.successes, m.failures, b._held_count) == (1, 1, 0)


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def test_breakers_entered_and_dropped_leak_nothing():
    # A permit parked per thread and never popped costs ~24 bytes: 100k of them would
    # grow the process by 2.4 MB or more.
    def churn(n: int) -> None:
        for _ in range(n):
            b = tripgate.CircuitBreaker(fail_max=5, window_size=1, track_latency=False)
            b.__enter__()

    churn(10_000)  # warm the allocator
    gc.collect()
    before = _rss_kib()
    churn(100_000)
    gc.collect()
    grown = _rss_kib() - before
    assert grown < 1024, f"RSS grew {grown} KiB over 100k breakers"
