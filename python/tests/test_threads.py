"""Many threads through one breaker: no lock across the call, counts conserved,
half-open probes bounded."""

from __future__ import annotations

import threading

import tripgate

THREADS = 16


def run_threads(target, n: int = THREADS) -> None:
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            target(i)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_counts_are_conserved(clock):
    # Fail-rate rule off; the manual clock stands still, so every call stays in the window.
    b = tripgate.CircuitBreaker(failure_rate_threshold=None, clock=clock)
    per_thread = 2000

    @b
    def work(i: int) -> int:
        if i % 2:
            raise ValueError(i)
        return i

    def body(_: int) -> None:
        for i in range(per_thread):
            try:
                work(i)
            except ValueError:
                pass
            with b:
                pass
            b.acquire().ignore()

    run_threads(body)
    m = b.metrics()
    assert m.calls == THREADS * per_thread * 2
    assert m.failures == THREADS * per_thread // 2
    assert m.successes == THREADS * per_thread * 3 // 2
    assert m.ignored == THREADS * per_thread
    assert m.window_calls == m.calls
    assert b.state == "closed"


def test_calls_run_concurrently():
    """Every thread must be inside the guarded call at once for the barrier to open:
    the breaker holds no lock across the call."""
    n = 8
    b = tripgate.CircuitBreaker()
    barrier = threading.Barrier(n, timeout=10)

    @b
    def call() -> None:
        barrier.wait()

    run_threads(lambda _: call(), n)
    barrier.reset()

    def with_block(_: int) -> None:
        with b:
            barrier.wait()

    run_threads(with_block, n)
    assert b.metrics().successes == 2 * n


def test_half_open_probes_are_bounded(clock):
    permits = 3
    b = tripgate.CircuitBreaker(
        fail_max=1, reset_timeout=1, half_open_permits=permits, success_threshold=4095, clock=clock
    )
    b.acquire().failure()
    clock.advance(1)
    lock = threading.Lock()
    in_flight = 0
    peak = 0
    admitted = 0
    start = threading.Barrier(THREADS)

    def body(_: int) -> None:
        nonlocal in_flight, peak, admitted
        start.wait()
        for _ in range(500):
            try:
                p = b.acquire()
            except tripgate.CircuitBreakerError as e:
                assert e.state == "half_open"
                continue
            with lock:
                in_flight += 1
                admitted += 1
                peak = max(peak, in_flight)
            with lock:
                in_flight -= 1
            # Ignored probes free their slot and keep the breaker half-open.
            p.ignore()

    run_threads(body)
    assert b.state == "half_open"
    assert 1 <= peak <= permits
    assert admitted > 0
    m = b.metrics()
    assert m.half_open_probes == 0
    assert m.ignored == admitted


def test_one_transition_per_trip_under_contention(clock):
    events: list[tripgate.Transition] = []
    lock = threading.Lock()

    def listener(e: tripgate.Transition) -> None:
        with lock:
            events.append(e)

    b = tripgate.CircuitBreaker(fail_max=1, reset_timeout=60, listeners=[listener], clock=clock)
    start = threading.Barrier(THREADS)

    def body(_: int) -> None:
        start.wait()
        for _ in range(50):
            try:
                b.acquire().failure()
            except tripgate.CircuitBreakerError:
                pass

    run_threads(body)
    assert b.state == "open"
    assert [(e.from_state, e.to_state) for e in events] == [("closed", "open")]
