from __future__ import annotations

import pytest

import tripgate


@pytest.fixture
def clock() -> tripgate.ManualClock:
    return tripgate.ManualClock()


class Boom(Exception):
    """A failure raised by test calls."""


def fail(exc: BaseException | None = None) -> None:
    raise exc if exc is not None else Boom("boom")


def ok(value: object = 42) -> object:
    return value
