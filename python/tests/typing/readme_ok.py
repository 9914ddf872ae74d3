"""The README's patterns, which `mypy --strict` must accept (tests/test_typing.py)."""

from __future__ import annotations

import asyncio
import datetime

import tripgate

breaker = tripgate.CircuitBreaker(fail_max=5, reset_timeout=30, name="billing")
rate_based = tripgate.CircuitBreaker(
    failure_rate_threshold=0.5,
    minimum_calls=20,
    window_duration="60s",
    window_buckets=12,
    slow_call_duration=2.0,
    slow_call_rate_threshold=0.8,
    latency_percentile=("p99", "5s"),
    reset_timeout=datetime.timedelta(seconds=10),
    backoff_multiplier=2,
    max_reset_timeout="5m",
    jitter=0.1,
    half_open_permits=3,
    success_threshold=3,
    slow_start=(0.2, 30),
)


@breaker
def charge(customer_id: str, cents: int) -> str:
    return f"{customer_id}:{cents}"


def fetch(key: str, timeout: float = 1.0) -> bytes:
    return key.encode()


async def fetch_async(key: str) -> bytes:
    return key.encode()


def returns_inside_with(key: str) -> bytes:
    with breaker:
        return fetch(key)


async def returns_inside_async_with(key: str) -> bytes:
    async with breaker:
        return await fetch_async(key)


def explicit_permit(key: str) -> bytes:
    permit = breaker.acquire()
    try:
        data = fetch(key)
    except TimeoutError:
        permit.failure("timeout")
        raise
    permit.success()
    return data


async def main() -> None:
    receipt: str = charge("c-42", 1999)
    data: bytes = breaker.call(fetch, "key", timeout=1.0)
    more: bytes = await breaker.acall(fetch_async, "key")
    print(receipt, data, more, returns_inside_with("k"), await returns_inside_async_with("k"))
    try:
        charge("c-42", 1999)
    except tripgate.CircuitBreakerError as e:
        print(e.name, e.state, e.retry_after or 0)
    clock = tripgate.ManualClock()
    clock.advance(30)
    clock.advance("250ms")
    m = breaker.metrics()
    print(m.failure_rate, m.failures_by_kind["timeout"], explicit_permit("k"))
    breaker.reconfigure(fail_max=10, reset_timeout=5)


asyncio.run(main())
