"""The bulkhead: wait-free admission under threads, the asyncio bounded wait (driven by
a hand-fired deadline), and composition with breakers."""

from __future__ import annotations

import asyncio
import gc
import pickle
import sys
import threading

import pytest

import tripgate
from conftest import Boom, HandFiredSleeps

# A fail-safe for tests whose waiters only proceed when woken: if a wake-up were lost
# they would hang, and this turns that into a failure. No assertion depends on it.
HANG = 30.0


def never(seconds: float) -> asyncio.Future[None]:
    """A deadline that never passes: waiters proceed only when woken."""
    return asyncio.get_running_loop().create_future()


async def turns(n: int = 10) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_admission_release_and_metrics():
    b = tripgate.Bulkhead(2, name="db")
    assert (b.limit, b.name, b.max_wait, b.in_flight) == (2, "db", 0.0, 0)
    with b:
        assert b.in_flight == 1
        slot = b.acquire()
        assert b.in_flight == 2 and not slot.released and slot.bulkhead is b
        assert b.try_acquire() is None
        with pytest.raises(tripgate.BulkheadFullError) as info:
            b.acquire()
        e = info.value
        assert (e.name, e.limit) == ("db", 2) and str(e) == 'bulkhead "db" is full: 2 of 2 slots in use'
        copy = pickle.loads(pickle.dumps(e))
        assert (str(copy), copy.name, copy.limit) == (str(e), "db", 2)
        with pytest.raises(tripgate.BulkheadFullError):
            with b:
                pass
        slot.release()
        assert slot.released and b.in_flight == 1
        with pytest.raises(RuntimeError, match="already released"):
            slot.release()
        with b.try_acquire() as s2:
            assert b.in_flight == 2
        assert s2.released
    assert b.metrics() == tripgate.BulkheadMetrics(
        limit=2, in_flight=0, waiting=0, admitted=3, rejected=3, wait_timeouts=0, admitted_after_wait=0
    )
    assert b.metrics().as_dict()["rejected"] == 3
    assert repr(b) == "<Bulkhead name='db' limit=2 in_flight=0>"


def test_a_dropped_slot_is_given_back():
    b = tripgate.Bulkhead(1)
    slot = b.acquire()
    assert b.in_flight == 1
    del slot
    gc.collect()
    assert b.in_flight == 0 and b.try_acquire() is not None


def test_exceptions_release_the_slot():
    b = tripgate.Bulkhead(1)

    def boom():
        raise Boom()

    with pytest.raises(Boom):
        b.call(boom)
    with pytest.raises(Boom):
        with b:
            boom()
    assert b.in_flight == 0 and b.metrics().admitted == 2
    with pytest.raises(RuntimeError, match="without a matching __enter__"):
        b.__exit__(None, None, None)


def test_decorator_and_call():
    b = tripgate.Bulkhead(1)

    @b
    def add(x, y=0):
        """Adds."""
        assert b.in_flight == 1
        return x + y

    assert add(1, y=2) == 3 and add.__name__ == "add" and add.__doc__ == "Adds."
    assert b.call(lambda: b.in_flight) == 1
    with b:
        with pytest.raises(tripgate.BulkheadFullError):
            add(1)
    with pytest.raises(TypeError, match="not generators"):

        @b
        def gen():
            yield 1

    with pytest.raises(TypeError, match="decorates callables"):
        b(42)  # type: ignore[arg-type]
    assert b.metrics().rejected == 1


def test_options_are_checked():
    with pytest.raises(ValueError, match=r"invalid limit = 0: allowed 1..=1000000000"):
        tripgate.Bulkhead(0)
    with pytest.raises(ValueError, match=r"invalid limit = -3: allowed 1..="):
        tripgate.Bulkhead(-3)
    with pytest.raises(ValueError, match="invalid limit = 10000000000"):
        tripgate.Bulkhead(10**10)
    with pytest.raises(TypeError, match="limit must be an int, got bool"):
        tripgate.Bulkhead(True)
    with pytest.raises(TypeError, match="limit must be an int, got float"):
        tripgate.Bulkhead(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid max_wait = -1: allowed a finite number of seconds >= 0"):
        tripgate.Bulkhead(1, max_wait=-1)
    with pytest.raises(ValueError, match="invalid max_wait = inf"):
        tripgate.Bulkhead(1, max_wait=float("inf"))
    with pytest.raises(TypeError, match="name must be a str"):
        tripgate.Bulkhead(1, name=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sleep must be a callable"):
        tripgate.Bulkhead(1, sleep=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid max_wait = -0.5"):
        asyncio.run(tripgate.Bulkhead(1).acquire_async(max_wait=-0.5))


def test_never_admits_more_than_its_limit_under_32_threads():
    limit, threads, rounds = 4, 32, 300
    b = tripgate.Bulkhead(limit)
    lock = threading.Lock()
    state = {"active": 0, "max": 0, "over": 0}
    admitted = [0] * threads
    rejected = [0] * threads
    start = threading.Barrier(threads)

    def inside() -> None:
        with lock:
            state["active"] += 1
            state["max"] = max(state["max"], state["active"])
        if b.in_flight > limit:
            state["over"] += 1
        for _ in range(20):  # hold the slot for a moment (no sleeping)
            pass
        with lock:
            state["active"] -= 1

    def worker(i: int) -> None:
        start.wait()
        for r in range(rounds):
            try:
                if r % 3 == 0:
                    with b:
                        inside()
                elif r % 3 == 1:
                    b.call(inside)
                else:
                    slot = b.try_acquire()
                    if slot is None:
                        rejected[i] += 1
                        continue
                    try:
                        inside()
                    finally:
                        slot.release()
            except tripgate.BulkheadFullError:
                rejected[i] += 1
                continue
            admitted[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert state["max"] <= limit and state["over"] == 0
    m = b.metrics()
    assert m.admitted == sum(admitted) and m.rejected == sum(rejected)
    assert m.admitted + m.rejected == threads * rounds
    assert m.in_flight == 0 and m.admitted > 0


def test_async_waiter_is_admitted_when_a_slot_frees():
    b = tripgate.Bulkhead(1, max_wait=5, sleep=never)

    async def main():
        held = b.acquire()
        waiter = asyncio.ensure_future(b.acquire_async())
        await turns()
        assert not waiter.done() and b.metrics().waiting == 1
        held.release()
        slot = await asyncio.wait_for(waiter, HANG)
        assert b.in_flight == 1 and b.metrics().waiting == 0
        slot.release()

    asyncio.run(main())
    m = b.metrics()
    assert (m.admitted, m.admitted_after_wait, m.rejected, m.wait_timeouts) == (2, 1, 0, 0)


def test_async_wait_times_out_at_its_deadline():
    deadlines = HandFiredSleeps()
    b = tripgate.Bulkhead(1, name="api", max_wait=0.25, sleep=deadlines)

    async def main():
        held = b.acquire()
        waiter = asyncio.ensure_future(b.acquire_async())
        await turns()
        assert [s for s, _ in deadlines.sleeps] == [0.25] and not waiter.done()
        deadlines.fire()
        with pytest.raises(tripgate.BulkheadFullError, match=r"waited 0.25s") as info:
            await waiter
        assert info.value.limit == 1 and info.value.name == "api"
        held.release()
        # A per-call wait overrides the bulkhead's.
        held = b.acquire()
        with pytest.raises(tripgate.BulkheadFullError):
            await b.acquire_async(max_wait=0)
        held.release()

    asyncio.run(main())
    m = b.metrics()
    assert (m.wait_timeouts, m.rejected, m.waiting, m.in_flight) == (1, 1, 0, 0)


def test_async_without_wait_is_refused_at_once():
    b = tripgate.Bulkhead(1)

    async def work():
        return b.in_flight

    async def main():
        assert await b.acall(work) == 1
        async with b:
            with pytest.raises(tripgate.BulkheadFullError):
                async with b:
                    pass
            with pytest.raises(tripgate.BulkheadFullError):
                await b.acall(work)

    asyncio.run(main())
    assert b.metrics().rejected == 2 and b.in_flight == 0


def test_async_decorator_and_async_with_nest_per_task():
    b = tripgate.Bulkhead(2, max_wait=1, sleep=never)

    @b
    async def work(x):
        await asyncio.sleep(0)
        return x * 2

    async def nested():
        async with b:
            async with b:
                assert b.in_flight == 2
            assert b.in_flight == 1

    async def main():
        assert await asyncio.gather(*(work(i) for i in range(10))) == [i * 2 for i in range(10)]
        await nested()
        with pytest.raises(RuntimeError, match="without a matching __aenter__"):
            await b.__aexit__(None, None, None)

    asyncio.run(main())
    assert b.in_flight == 0 and b.metrics().admitted == 12


def test_wake_up_from_another_thread():
    b = tripgate.Bulkhead(1, max_wait=5, sleep=never)
    held = b.acquire()

    async def main():
        waiter = asyncio.ensure_future(b.acquire_async())
        await turns()
        assert b.metrics().waiting == 1
        t = threading.Thread(target=held.release)
        t.start()
        slot = await asyncio.wait_for(waiter, HANG)
        t.join()
        slot.release()

    asyncio.run(main())
    assert b.metrics().admitted_after_wait == 1


def test_a_cancelled_waiter_passes_its_wake_up_on():
    b = tripgate.Bulkhead(1, max_wait=5, sleep=never)

    async def main():
        held = b.acquire()
        first = asyncio.ensure_future(b.acquire_async())
        await turns()
        second = asyncio.ensure_future(b.acquire_async())
        await turns()
        assert b.metrics().waiting == 2
        held.release()  # wakes the first waiter ...
        first.cancel()  # ... which leaves before it looks
        with pytest.raises(asyncio.CancelledError):
            await first
        slot = await asyncio.wait_for(second, HANG)
        assert b.metrics().waiting == 0
        slot.release()

    asyncio.run(main())
    assert b.in_flight == 0


class Racy(tripgate.Bulkhead):
    """Runs ``after_look`` once, right after a waiter's look for a slot came back
    empty: the moment a release from another thread would be lost if waiters looked
    before queueing themselves."""

    after_look = None

    def _take(self, waited):
        slot = super()._take(waited)
        hook = self.after_look
        if waited and slot is None and hook is not None:
            self.after_look = None
            hook()
        return slot


def test_a_release_right_after_a_waiters_look_wakes_it():
    b = Racy(1, max_wait=5, sleep=never)

    async def main():
        held = b.acquire()
        b.after_look = held.release
        slot = await asyncio.wait_for(b.acquire_async(), HANG)
        assert b.after_look is None  # the release did land in that window
        slot.release()

    asyncio.run(main())
    assert b.metrics().admitted_after_wait == 1


def test_a_release_from_a_thread_right_after_a_waiters_look_wakes_it():
    b = Racy(1, max_wait=5, sleep=never)

    async def main():
        held = b.acquire()

        def release_elsewhere():
            t = threading.Thread(target=held.release)
            t.start()
            t.join()

        b.after_look = release_elsewhere
        slot = await asyncio.wait_for(b.acquire_async(), HANG)
        slot.release()

    asyncio.run(main())
    assert b.metrics().admitted_after_wait == 1


def test_no_lost_wake_ups_with_waiters_and_contending_threads():
    """Async waiters (whose deadline never passes) on one loop, and threads taking,
    refusing and releasing slots at the limit: every waiter gets a slot and the limit
    holds throughout. (The orderings that could lose a wake-up are pinned down
    deterministically above; on free-threaded CPython this is also where a refused
    caller's transient increment meets a waiter's look.)"""
    limit, waiters, threads, rounds = 2, 300, 4, 2000
    b = tripgate.Bulkhead(limit, max_wait=1, sleep=never)
    lock = threading.Lock()
    state = {"active": 0, "max": 0}
    stop = threading.Event()

    def enter() -> None:
        with lock:
            state["active"] += 1
            state["max"] = max(state["max"], state["active"])

    def leave() -> None:
        with lock:
            state["active"] -= 1

    def hammer() -> None:
        # A fixed number of rounds, not "until the waiters are done": releases from
        # these threads must not keep waking waiters whose own wake-ups were lost.
        for _ in range(rounds):
            if stop.is_set():
                return
            slot = b.try_acquire()
            if slot is not None:
                enter()
                leave()
                slot.release()

    async def one() -> None:
        async with b:
            enter()
            await asyncio.sleep(0)
            leave()

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(waiters))), HANG)

    pool = [threading.Thread(target=hammer) for _ in range(threads)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # many more interleavings per second than the default 5 ms
    for t in pool:
        t.start()
    try:
        asyncio.run(main())
    finally:
        stop.set()
        for t in pool:
            t.join()
        sys.setswitchinterval(switch)
    m = b.metrics()
    assert state["max"] <= limit
    assert m.in_flight == 0 and m.waiting == 0 and m.wait_timeouts == 0


def test_composes_with_a_breaker_in_either_order(clock):
    breaker = tripgate.CircuitBreaker(clock=clock)
    b = tripgate.Bulkhead(1)
    held = b.acquire()
    # Bulkhead first: a full bulkhead refuses before the breaker is asked.
    with pytest.raises(tripgate.BulkheadFullError):
        with b, breaker:
            pass
    assert breaker.metrics().calls == 0 and breaker.metrics().ignored == 0
    # Breaker first: the breaker sees the refusal and, by default, counts it neither way.
    with pytest.raises(tripgate.BulkheadFullError):
        with breaker, b:
            pass
    assert breaker.metrics().ignored == 1 and breaker.metrics().failures == 0
    # An open breaker refuses before the bulkhead is asked (breaker first).
    held.release()
    breaker.force_open()
    with pytest.raises(tripgate.CircuitBreakerError):
        with breaker, b:
            pass
    assert b.metrics().admitted == 1  # only `held`

    breaker.reset()

    @b
    @breaker
    def call() -> str:
        return "ok"

    assert call() == "ok"
    assert breaker.metrics().successes == 1 and b.in_flight == 0

    async def main():
        async with b, breaker:
            assert b.in_flight == 1

    asyncio.run(main())
    assert breaker.metrics().successes == 2


def test_a_classify_hook_may_count_a_full_bulkhead_as_a_failure(clock):
    breaker = tripgate.CircuitBreaker(
        clock=clock,
        classify=lambda exc, result: "failure" if isinstance(exc, tripgate.BulkheadFullError) else None,
    )
    b = tripgate.Bulkhead(1)
    held = b.acquire()
    with pytest.raises(tripgate.BulkheadFullError):
        with breaker, b:
            pass
    held.release()
    assert breaker.metrics().failures == 1 and breaker.metrics().ignored == 0
