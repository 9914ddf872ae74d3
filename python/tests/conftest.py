from __future__ import annotations

import asyncio

import pytest

import tripgate


def run(coro):
    """Runs a coroutine to completion on a fresh event loop."""
    return asyncio.run(coro)


@pytest.fixture
def clock() -> tripgate.ManualClock:
    return tripgate.ManualClock()


class Boom(Exception):
    """A failure raised by test calls."""


def fail(exc: BaseException | None = None) -> None:
    raise exc if exc is not None else Boom("boom")


def ok(value: object = 42) -> object:
    return value


class HandFiredSleeps:
    """A ``sleep`` whose sleeps end only when the test fires them: no test waits on
    real time."""

    def __init__(self) -> None:
        self.sleeps: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self, seconds: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sleeps.append((seconds, fut))
        return fut

    @property
    def delays(self) -> list[float]:
        return [s for s, _ in self.sleeps]

    @property
    def pending(self) -> int:
        return sum(not f.done() for _, f in self.sleeps)

    def fire(self) -> None:
        for _, fut in self.sleeps:
            if not fut.done():
                fut.set_result(None)
