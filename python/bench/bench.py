"""Guarded-call overhead of tripgate against pybreaker, circuitbreaker and aiobreaker.

Run from python/ after ./run_tests.sh (which builds the release extension):

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/bench.py            # markdown tables on stdout
    .venv/bin/python bench/bench.py --quick    # fewer repeats

Scenario 1 (overhead): one closed breaker per library, configured alike (5 consecutive
failures trip it, 60 s open), guarding `def f(): return None`. Each figure is the best of
`--repeat` timeit runs, per call, minus the bare call `f()` measured the same way.

Scenario 2 (concurrency): 8 threads, each making `--calls` guarded calls of a function
that sleeps 1 ms (releasing the GIL). A breaker that holds a lock across the call
serializes them: wall time ~ threads x calls x 1 ms instead of calls x 1 ms.

Scenario 3 (asyncio): a decorated coroutine awaited in a loop, against the bare coroutine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import platform
import statistics
import sys
import threading
import time
import timeit
from typing import Any, Callable

import tripgate

try:
    import pybreaker
except ImportError:  # pragma: no cover
    pybreaker = None
try:
    import circuitbreaker
except ImportError:  # pragma: no cover
    circuitbreaker = None
try:
    import aiobreaker
except ImportError:  # pragma: no cover
    aiobreaker = None


def f() -> None:
    return None


def per_call(stmt: Callable[[], Any], number: int, repeat: int) -> float:
    """Best-of-`repeat` seconds per call of `stmt` (itself a zero-argument callable)."""
    timer = timeit.Timer(stmt)
    return min(timer.repeat(repeat=repeat, number=number)) / number


def loop_of(fn: Callable[[], Any], inner: int) -> Callable[[], None]:
    """A callable running `fn()` `inner` times, so timeit's own call cost is amortised."""
    rng = range(inner)

    def run() -> None:
        for _ in rng:
            fn()

    return run


def with_loop(breaker: Any, inner: int) -> Callable[[], None]:
    rng = range(inner)

    def run() -> None:
        for _ in rng:
            with breaker:
                f()

    return run


def overhead_cases() -> list[tuple[str, Callable[[], Any], str]]:
    cases: list[tuple[str, Callable[[], Any], str]] = []
    tg_default = tripgate.CircuitBreaker(fail_max=5, reset_timeout=60)
    tg_lean = tripgate.CircuitBreaker(fail_max=5, reset_timeout=60, track_latency=False)
    cases.append(("tripgate `@breaker` (latency tracking on, default)", tg_default(f), "decorator"))
    cases.append(("tripgate `@breaker` (track_latency=False)", tg_lean(f), "decorator"))
    cases.append(("tripgate `breaker.call(f)`", lambda: tg_default.call(f), "call"))
    cases.append(("tripgate `with breaker:`", None, "with"))  # type: ignore[arg-type]
    if pybreaker is not None:
        pb = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
        cases.append((f"pybreaker {pybreaker_version()} `@breaker`", pb(f), "decorator"))
    if circuitbreaker is not None:
        cb = circuitbreaker.circuit(failure_threshold=5, recovery_timeout=60)(f)
        cases.append((f"circuitbreaker {version_of('circuitbreaker')} `@circuit`", cb, "decorator"))
    if aiobreaker is not None:
        ab = aiobreaker.CircuitBreaker(fail_max=5, timeout_duration=datetime.timedelta(seconds=60))
        cases.append((f"aiobreaker {version_of('aiobreaker')} `@breaker` (sync)", ab(f), "decorator"))
    return cases


def version_of(dist: str) -> str:
    from importlib.metadata import version

    try:
        return version(dist)
    except Exception:  # pragma: no cover
        return "?"


def pybreaker_version() -> str:
    return version_of("pybreaker")


def scenario_overhead(inner: int, number: int, repeat: int) -> list[tuple[str, float, float]]:
    bare = per_call(loop_of(f, inner), number, repeat) / inner
    rows = [("bare call `f()`", bare, 0.0)]
    tg_with = tripgate.CircuitBreaker(fail_max=5, reset_timeout=60)
    for label, fn, kind in overhead_cases():
        if kind == "with":
            t = per_call(with_loop(tg_with, inner), number, repeat) / inner
        else:
            t = per_call(loop_of(fn, inner), number, repeat) / inner
        rows.append((label, t, t - bare))
    return rows


def sleepy() -> None:
    time.sleep(0.001)


def scenario_threads(threads: int, calls: int) -> list[tuple[str, float]]:
    targets: list[tuple[str, Callable[[], Any]]] = [("bare", sleepy)]
    tg = tripgate.CircuitBreaker(fail_max=5, reset_timeout=60)
    targets.append(("tripgate `@breaker`", tg(sleepy)))

    def tg_with() -> None:
        with tg:
            sleepy()

    targets.append(("tripgate `with breaker:`", tg_with))
    if pybreaker is not None:
        targets.append(("pybreaker", pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)(sleepy)))
    if circuitbreaker is not None:
        targets.append(("circuitbreaker", circuitbreaker.circuit(failure_threshold=5, recovery_timeout=60)(sleepy)))
    if aiobreaker is not None:
        targets.append(
            ("aiobreaker (sync)", aiobreaker.CircuitBreaker(fail_max=5, timeout_duration=datetime.timedelta(seconds=60))(sleepy))
        )
    out = []
    for label, fn in targets:
        walls = []
        for _ in range(3):
            barrier = threading.Barrier(threads + 1)

            def body(fn: Callable[[], Any] = fn, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                for _ in range(calls):
                    fn()

            ts = [threading.Thread(target=body) for _ in range(threads)]
            for t in ts:
                t.start()
            barrier.wait()
            start = time.perf_counter()
            for t in ts:
                t.join()
            walls.append(time.perf_counter() - start)
        out.append((label, statistics.median(walls)))
    return out


async def _noop() -> None:
    return None


def scenario_async(n: int, repeat: int) -> list[tuple[str, float, float]]:
    cases: list[tuple[str, Callable[[], Any]]] = [("bare `await f()`", _noop)]
    tg = tripgate.CircuitBreaker(fail_max=5, reset_timeout=60)
    cases.append(("tripgate `@breaker` on `async def`", tg(_noop)))

    async def tg_acm() -> None:
        async with tg:
            await _noop()

    cases.append(("tripgate `async with breaker:`", tg_acm))
    if aiobreaker is not None:
        ab = aiobreaker.CircuitBreaker(fail_max=5, timeout_duration=datetime.timedelta(seconds=60))
        cases.append((f"aiobreaker {version_of('aiobreaker')} `@breaker` on `async def`", ab(_noop)))

    async def run(fn: Callable[[], Any]) -> float:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(n):
                await fn()
            best = min(best, time.perf_counter() - start)
        return best / n

    async def main() -> list[tuple[str, float]]:
        return [(label, await run(fn)) for label, fn in cases]

    results = asyncio.run(main())
    bare = results[0][1]
    return [(label, t, t - bare) for label, t in results]


def ns(s: float) -> str:
    return f"{s * 1e9:,.0f} ns"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke run)")
    ap.add_argument("--calls", type=int, default=50, help="guarded calls per thread in the concurrency scenario")
    args = ap.parse_args()
    inner, number, repeat = (1000, 20, 3) if args.quick else (1000, 200, 7)

    print(f"Python {platform.python_version()} ({sys.implementation.name}), {platform.machine()}, "
          f"tripgate {tripgate.__version__}\n")
    rows = scenario_overhead(inner, number, repeat)
    tg_best = min(o for label, _, o in rows if label.startswith("tripgate `@breaker`"))
    print("### Guarded-call overhead (closed breaker, `f()` returns None)\n")
    print("| guard | per call | overhead over bare | vs tripgate `@breaker` |")
    print("|---|---:|---:|---:|")
    tg_decorator = next(o for label, _, o in rows if label.startswith("tripgate `@breaker` (latency"))
    for label, t, o in rows:
        ratio = "" if o == 0 else f"{o / tg_decorator:.1f}x"
        print(f"| {label} | {ns(t)} | {ns(o) if o else '-'} | {ratio} |")
    del tg_best

    threads = 8
    print(f"\n### Concurrency ({threads} threads x {args.calls} calls, each sleeping 1 ms)\n")
    print("| guard | wall time (median of 3) | vs bare |")
    print("|---|---:|---:|")
    trows = scenario_threads(threads, args.calls)
    bare_wall = trows[0][1]
    for label, wall in trows:
        print(f"| {label} | {wall * 1e3:.1f} ms | {wall / bare_wall:.2f}x |")
    print(f"\n(serialized would be about {threads * args.calls * 1.06:.0f} ms; fully parallel about "
          f"{args.calls * 1.06:.0f} ms)")

    print("\n### asyncio (decorated coroutine awaited in a loop)\n")
    print("| guard | per call | overhead over bare |")
    print("|---|---:|---:|")
    for label, t, o in scenario_async(20000 if not args.quick else 2000, repeat):
        print(f"| {label} | {ns(t)} | {ns(o) if o else '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
