"""The README's patterns, which `mypy --strict` must accept (tests/test_typing.py)."""

from __future__ import annotations

import asyncio
import datetime

import tripgate
import tripgate.pybreaker as pybreaker

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


class CustomerValidationError(Exception):
    pass


db_breaker = pybreaker.CircuitBreaker(
    fail_max=5,
    reset_timeout=60,
    exclude=[CustomerValidationError, lambda e: isinstance(e, KeyError)],
    state_storage=pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED),
    name="db",
)


class LogListener(pybreaker.CircuitBreakerListener):
    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        print(cb.name, old_state.name if old_state else None, new_state.name)


@db_breaker
def update_customer(cust: str) -> str:
    return cust


@db_breaker
async def fetch_customer(cust_id: int) -> str:
    return str(cust_id)


async def pybreaker_main() -> None:
    db_breaker.add_listeners(LogListener())
    updated: str = db_breaker.call(update_customer, "c-1")
    fetched: str = await db_breaker.call_async(fetch_customer, 7)
    with db_breaker.calling():
        print(updated, fetched, update_customer("c-2"), await fetch_customer(8))
    db_breaker.fail_max = 10
    db_breaker.reset_timeout = 30
    state: str = db_breaker.current_state
    print(state, db_breaker.state.name, db_breaker.fail_counter, db_breaker.success_counter)
    db_breaker.open()
    db_breaker.half_open()
    db_breaker.close()
    try:
        update_customer("c-3")
    except pybreaker.CircuitBreakerError as e:
        print(e.retry_after)




def fleet_mode() -> None:
    """README, *Fleet mode* and *CircuitRedisStorage* (type-checked, not run: no Redis)."""
    from tripgate.prometheus import render

    fleet = tripgate.Fleet(
        service="checkout",
        environment="prod",
        url="redis://10.0.0.5:6379/0",
        username="tripgate",
        password_env="REDIS_PASSWORD",
        quorum=2,
    )
    db = tripgate.CircuitBreaker(fail_max=5, name="database", fleet=fleet)
    synced: bool = fleet.sync(timeout="2s")
    up: bool = fleet.metrics()["store_up"]
    text: str = render({"database": db}, fleet=fleet) + fleet.prometheus()
    print(synced, up, text, db.fleet is fleet, fleet.detach("database"))
    fleet.close()
    with tripgate.Fleet({"service": "checkout", "environment": "prod", "url": "redis://127.0.0.1/0"}) as other:
        other.attach("database", db)

    class Redis:  # what tripgate reads of a redis-py client
        connection_pool: object = None

    storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, Redis(), namespace="checkout")
    shared = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60, name="database", state_storage=storage)
    print(shared.current_state, storage.fleet.metrics())


asyncio.run(main())
asyncio.run(pybreaker_main())
