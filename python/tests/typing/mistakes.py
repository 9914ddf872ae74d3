"""Known mistakes `mypy --strict` must reject (tests/test_typing.py checks each line's
error code)."""

from __future__ import annotations

import tripgate


def fetch(key: str, timeout: float = 1.0) -> bytes:
    return key.encode()


async def fetch_async(key: str) -> bytes:
    return key.encode()


misspelt = tripgate.CircuitBreaker(fail_mx=3)  # MISTAKE: call-arg
wrong_type = tripgate.CircuitBreaker(fail_max="3")  # MISTAKE: arg-type
wrong_arg = tripgate.CircuitBreaker().call(fetch, 42)  # MISTAKE: arg-type
wrong_result: str = tripgate.CircuitBreaker().call(fetch, "k")  # MISTAKE: assignment


async def missing_await() -> bytes:
    breaker = tripgate.CircuitBreaker()
    return breaker.acall(fetch_async, "k")  # MISTAKE: return-value


tripgate.CircuitBreaker().reconfigure(reset_timout=5)  # MISTAKE: call-arg
tripgate.CircuitBreaker(name="db", fleet="redis://127.0.0.1/0")  # MISTAKE: arg-type
