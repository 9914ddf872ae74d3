"""Resilience patterns over tripgate breakers: fallback chains, graduated cache fallback,
request hedging (asyncio) and bulkheads.

The Python faces of the Rust crate ``tripgate-patterns`` (``patterns/``), with the same
names and semantics where Python allows:

- :func:`fallback` builds a :class:`FallbackChain`: steps tried in order (primary,
  fallback, cache); a step its breaker rejects, or whose call raises, hands over to the
  next; the :class:`Answer` names the step that answered. Sync (``chain(...)``) and
  async (``await chain.acall(...)``).
- :class:`GraduatedCache`: live, then recent cache, then stale cache, then a default,
  then fail; :class:`Served` says which :class:`CacheTier` answered.
- :func:`hedge` builds a :class:`Hedge` (asyncio): start the primary; if it has not
  answered after the hedge delay (fixed, or a latency percentile of the primary
  breaker's window, clamped to a floor and a ceiling), start the secondary through its
  own breaker; the first success wins, the loser is cancelled and recorded as
  *ignored*; a cap bounds the secondaries in flight.
- :class:`Bulkhead`: at most ``limit`` calls in flight to one dependency; wait-free
  admission (the Rust crate's counter), an optional bounded wait for asyncio callers.

Breaker logic stays in the engine: these patterns only decide which breaker to ask and
what to record, through the breakers' permits (``acquire()`` and its answers), so each
breaker's ``exclude`` and ``classify`` rules apply as they do to ``breaker.call``.

Recording conventions (as in the Rust crate):

- A call a pattern starts and then cancels (a hedge's loser, a hedged call cancelled
  while it runs) is recorded as *ignored* (``permit.ignore()``): it says nothing about
  the dependency's health. A chain or cache step cancelled from outside is released
  (metric ``abandoned``), as ``breaker.acall`` does.
- A step whose call raises :class:`BulkheadFullError` (a full bulkhead inside the
  breaker) is recorded as *ignored* and the pattern moves on.
- Only ``Exception`` subclasses move a pattern on; ``KeyboardInterrupt``,
  ``SystemExit`` and ``asyncio.CancelledError`` propagate at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import math
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar, Union, cast

from . import (
    CircuitBreaker,
    CircuitBreakerError,
    ManualClock,
    _core,
    _NameEnum,
    _pop_held,
    _push_held,
)

__all__ = [
    "Answer",
    "Bulkhead",
    "BulkheadFullError",
    "BulkheadMetrics",
    "BulkheadSlot",
    "CacheTier",
    "FallbackChain",
    "FallbackError",
    "GraduatedCache",
    "GraduatedError",
    "Hedge",
    "HedgeError",
    "HedgeMetrics",
    "Hedged",
    "Leg",
    "Served",
    "Step",
    "StepError",
    "fallback",
    "hedge",
]

T = TypeVar("T")
V = TypeVar("V")
K = TypeVar("K", bound=Hashable)
F = TypeVar("F", bound=Callable[..., Any])

BulkheadSlot = _core.BulkheadSlot
"""A slot in a :class:`Bulkhead`: ``release()`` it, or use it as ``with slot:``."""

Clock = Union[ManualClock, Callable[[], float]]
"""A time source in seconds: a :class:`~tripgate.ManualClock` or a callable such as
``time.monotonic``."""

_QUANTILES = ("p50", "p90", "p95", "p99", "p999")

# ------------------------------------------------------------------------ validation


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _seconds(option: str, v: Any) -> float:
    if not _is_number(v):
        raise TypeError(f"{option} must be a number of seconds, got {type(v).__name__}")
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"invalid {option} = {v!r}: allowed a finite number of seconds >= 0")
    return float(v)


def _int(option: str, v: Any, low: int, high: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{option} must be an int, got {type(v).__name__}")
    if not low <= v <= high:
        raise ValueError(f"invalid {option} = {v!r}: allowed {low}..={high}")
    return v


def _breaker(option: str, v: Any, *, optional: bool = False) -> CircuitBreaker | None:
    if v is None and optional:
        return None
    if not isinstance(v, _core.Breaker):
        kind = "a tripgate.CircuitBreaker or None" if optional else "a tripgate.CircuitBreaker"
        raise TypeError(f"{option} must be {kind}, got {type(v).__name__}")
    return cast(CircuitBreaker, v)


def _clock(v: Any) -> Callable[[], float]:
    if v is None:
        return time.monotonic
    if isinstance(v, ManualClock):
        clock = v
        return lambda: clock.now
    if callable(v):
        return cast(Callable[[], float], v)
    raise TypeError(f"clock must be a tripgate.ManualClock or a callable returning seconds, got {type(v).__name__}")


# ----------------------------------------------------------------------- recording


def _settle_error(permit: _core.Permit, exc: BaseException) -> None:
    """Answers ``permit`` after its call raised ``exc``, as a guarded call would, except
    that a full bulkhead inside the breaker says nothing about the dependency."""
    if isinstance(exc, BulkheadFullError):
        permit.ignore()
    else:
        permit._settle_error(exc)


def _awaitable_returned(where: str, value: Any, permit: _core.Permit | None) -> TypeError:
    if permit is not None:
        permit.release()
    close = getattr(value, "close", None)
    if inspect.iscoroutine(value) and close is not None:
        close()  # no "coroutine was never awaited" warning on top of the error
    return TypeError(f"{where} returned an awaitable: use the async form (acall) for async functions")


# ---------------------------------------------------------------- fallback chain


@dataclasses.dataclass(frozen=True)
class Step(Generic[T]):
    """One step of a fallback chain: a named call, guarded by its own breaker or not.

    ``func`` is called with the chain call's arguments. A step without a breaker (a
    local cache, a constant) is never rejected.
    """

    name: str
    func: Callable[..., Union[T, Awaitable[T]]]
    breaker: CircuitBreaker | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"a step's name must be a str, got {type(self.name).__name__}")
        if not callable(self.func):
            raise TypeError(f"step {self.name!r}: func must be callable, got {type(self.func).__name__}")
        _breaker(f"step {self.name!r}: breaker", self.breaker, optional=True)


StepSpec = Union[
    Step[T],
    tuple[str, Callable[..., Union[T, Awaitable[T]]]],
    tuple[str, Union[CircuitBreaker, None], Callable[..., Union[T, Awaitable[T]]]],
]
"""A :class:`Step`, a ``(name, func)`` pair (unguarded) or a ``(name, breaker, func)``
triple."""


@dataclasses.dataclass(frozen=True)
class StepError:
    """A step that did not answer: its position, its name and why."""

    index: int
    """Position of the step in the chain, from 0."""
    name: str
    error: BaseException
    """The :class:`~tripgate.CircuitBreakerError` of a rejection, or what the call raised."""
    rejected: bool
    """Whether the step's breaker rejected it (its call never ran)."""

    def __str__(self) -> str:
        what = "rejected" if self.rejected else "failed"
        return f"step {self.index} ({self.name}) {what}: {self.error!r}"


@dataclasses.dataclass(frozen=True)
class Answer(Generic[T]):
    """The answer of a fallback chain: the value, which step gave it, and the errors of
    the steps tried before it (in order; empty when the first step answered)."""

    value: T
    index: int
    """Position of the answering step, from 0."""
    name: str
    """Name of the answering step."""
    errors: tuple[StepError, ...]


class FallbackError(Exception):
    """Every step of a fallback chain was rejected or failed.

    Attributes:
        errors: one :class:`StepError` per step, in order. The exception is raised
            ``from`` the last step's error.
    """

    def __init__(self, errors: Iterable[StepError]) -> None:
        self.errors = tuple(errors)
        super().__init__("every step of the fallback chain failed: " + "; ".join(map(str, self.errors)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.errors,))


def _as_step(spec: Any, index: int) -> Step[Any]:
    if isinstance(spec, Step):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2:
        return Step(spec[0], spec[1])
    if isinstance(spec, tuple) and len(spec) == 3:
        return Step(spec[0], spec[2], spec[1])
    raise TypeError(
        f"step {index} must be a tripgate.Step, a (name, func) pair or a (name, breaker, func) triple, got {spec!r}"
    )


class FallbackChain(Generic[T]):
    """Steps tried in order until one answers. Build it with :func:`fallback`.

    ``chain(*args, **kwargs)`` (or ``chain.call(...)``) runs the steps synchronously;
    ``await chain.acall(*args, **kwargs)`` awaits the steps that return awaitables (a
    chain may mix ``async def`` steps with plain ones, such as a dict lookup). Each step's
    ``func`` gets the call's arguments.

    A step whose breaker rejects it, or whose call raises an ``Exception``, hands over
    to the next; the first step that returns answers, with an :class:`Answer`. When
    every step fails, :class:`FallbackError` is raised. Each step that ran is recorded
    on its breaker as ``breaker.call`` would record it; a step the chain never reaches
    is not touched. A returned value answers even if the breaker's ``classify`` hook
    records it as a failure: raise to move on.

    A chain holds no state of its own between calls: build it once, call it from any
    thread or task.
    """

    __slots__ = ("_steps",)

    def __init__(self, steps: Iterable[StepSpec[T]]) -> None:
        self._steps: tuple[Step[T], ...] = tuple(_as_step(s, i) for i, s in enumerate(steps))
        if not self._steps:
            raise ValueError("a fallback chain needs at least one step")

    @property
    def steps(self) -> tuple[Step[T], ...]:
        """The steps, in order."""
        return self._steps

    def __call__(self, *args: Any, **kwargs: Any) -> Answer[T]:
        """Runs the chain synchronously; see :meth:`call`."""
        return self.call(*args, **kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Answer[T]:
        """Tries the steps in order with ``(*args, **kwargs)``; the first that is
        admitted and returns answers. Raises :class:`FallbackError` when none does."""
        errors: list[StepError] = []
        for index, step in enumerate(self._steps):
            permit = None
            if step.breaker is not None:
                try:
                    permit = step.breaker.acquire()
                except CircuitBreakerError as e:
                    errors.append(StepError(index, step.name, e, True))
                    continue
            try:
                value = step.func(*args, **kwargs)
            except Exception as exc:
                if permit is not None:
                    _settle_error(permit, exc)
                errors.append(StepError(index, step.name, exc, False))
                continue
            except BaseException as exc:
                if permit is not None:
                    permit._settle_error(exc)
                raise
            if inspect.isawaitable(value):
                raise _awaitable_returned(f"step {index} ({step.name!r})", value, permit)
            if permit is not None:
                permit._settle_value(value)
            return Answer(value, index, step.name, tuple(errors))
        raise FallbackError(errors) from errors[-1].error

    async def acall(self, *args: Any, **kwargs: Any) -> Answer[T]:
        """Async :meth:`call`: a step's result is awaited when it is awaitable. If the
        calling task is cancelled while a step runs, that step's permit is released and
        the cancellation propagates."""
        errors: list[StepError] = []
        for index, step in enumerate(self._steps):
            permit = None
            if step.breaker is not None:
                try:
                    permit = step.breaker.acquire()
                except CircuitBreakerError as e:
                    errors.append(StepError(index, step.name, e, True))
                    continue
            try:
                value = step.func(*args, **kwargs)
                if inspect.isawaitable(value):
                    value = await value
            except Exception as exc:
                if permit is not None:
                    _settle_error(permit, exc)
                errors.append(StepError(index, step.name, exc, False))
                continue
            except BaseException as exc:
                if permit is not None:
                    permit._settle_error(exc)
                raise
            if permit is not None:
                permit._settle_value(value)
            return Answer(cast(T, value), index, step.name, tuple(errors))
        raise FallbackError(errors) from errors[-1].error

    def __repr__(self) -> str:
        return f"<FallbackChain {' -> '.join(s.name for s in self._steps)}>"


def fallback(*steps: StepSpec[T]) -> FallbackChain[T]:
    """A fallback chain of ``steps``, tried in order.

    Each step is a :class:`Step`, a ``(name, breaker, func)`` triple or a
    ``(name, func)`` pair (no breaker)::

        chain = tripgate.fallback(
            ("primary", primary_breaker, fetch_primary),
            ("replica", replica_breaker, fetch_replica),
            ("cache", cache.get),
        )
        answer = chain(key)                  # or: await chain.acall(key)
        answer.value, answer.name, answer.index, answer.errors
    """
    return FallbackChain(steps)


# -------------------------------------------------------------- graduated fallback


class CacheTier(_NameEnum):
    """Which tier of a :class:`GraduatedCache` answered. Compares equal to its name."""

    LIVE = "live"
    """The live call."""
    RECENT = "recent"
    """A cached value no older than ``recent``."""
    STALE = "stale"
    """A cached value older than ``recent`` and no older than ``stale``."""
    DEFAULT = "default"
    """The default value."""


@dataclasses.dataclass(frozen=True)
class Served(Generic[V]):
    """A value and the tier that served it."""

    value: V
    tier: CacheTier
    age: float | None
    """Seconds since the value was stored: 0 for ``live``, ``None`` for ``default``."""
    error: BaseException | None = None
    """Why the live call did not answer (``None`` when it did): the breaker's
    :class:`~tripgate.CircuitBreakerError`, or what the call raised."""


class GraduatedError(Exception):
    """The live call failed (or was rejected) and no cache tier or default could answer.

    Attributes:
        key: the key asked for.
        live: the breaker's :class:`~tripgate.CircuitBreakerError`, or what the call
            raised (also the exception's ``__cause__``).
        rejected: whether the breaker rejected the live call.
    """

    def __init__(self, key: Any, live: BaseException, rejected: bool = False) -> None:
        super().__init__(f"no cached value or default for {key!r}, and the live call failed: {live!r}")
        self.key = key
        self.live = live
        self.rejected = rejected

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.key, self.live, self.rejected))


_NO_DEFAULT: Any = object()


class GraduatedCache(Generic[K, V]):
    """Graduated fallback for cached data: live, then recent cache, then stale cache,
    then a default, then fail (the Rust crate's ``Graduated``).

    :meth:`call` tries the live call through its breaker; a value it returns is stored
    and served as ``live``. When the breaker rejects the call or the call raises an
    ``Exception``, the cache answers in tiers, and :attr:`Served.tier` says which:

    - ``recent``: the cached value is at most ``recent`` seconds old;
    - ``stale``: it is at most ``stale`` seconds old;
    - ``default``: no usable cached value, and a ``default`` was given;
    - otherwise :class:`GraduatedError` (raised from the live call's error).

    Both ages are inclusive: a value exactly ``recent`` old is still recent. Ages are
    read from ``clock`` (a :class:`~tripgate.ManualClock` in tests; ``time.monotonic``
    unless given). The cache holds at most ``capacity`` keys: a store into a full cache
    first drops values older than ``stale``, then the oldest one. Thread-safe: a lock
    guards the map and is never held while a call runs.

    Example::

        prices = tripgate.GraduatedCache(recent=300, stale=3600, default=None)
        served = prices.call("apple", pricing_breaker, pricing.get_price, "apple")
        if served.tier != "live":
            log.info("price of apple from the %s tier (%s)", served.tier, served.error)
    """

    def __init__(
        self,
        *,
        recent: float,
        stale: float,
        default: V = _NO_DEFAULT,
        capacity: int = 10_000,
        clock: Clock | None = None,
    ) -> None:
        self._recent = _seconds("recent", recent)
        self._stale = _seconds("stale", stale)
        if self._stale < self._recent:
            raise ValueError(f"invalid stale = {stale!r}: allowed a number of seconds >= recent ({recent!r})")
        self._capacity = _int("capacity", capacity, 1, 2**63 - 1)
        self._default = default
        self._now = _clock(clock)
        self._lock = threading.Lock()
        # Insertion order is storage order (a store moves its key to the end), so the
        # oldest entries come first.
        self._entries: dict[K, tuple[V, float]] = {}

    @property
    def recent(self) -> float:
        """Seconds a cached value is served as ``recent``."""
        return self._recent

    @property
    def stale(self) -> float:
        """Seconds a cached value is served at all (as ``stale`` past ``recent``)."""
        return self._stale

    @property
    def capacity(self) -> int:
        """The most keys held."""
        return self._capacity

    @property
    def has_default(self) -> bool:
        """Whether a default answers when no cached value is usable."""
        return self._default is not _NO_DEFAULT

    def insert(self, key: K, value: V) -> None:
        """Stores ``value`` for ``key``, stamped now."""
        now = self._now()
        with self._lock:
            entries = self._entries
            if key in entries:
                del entries[key]
            elif len(entries) >= self._capacity:
                while entries:  # values older than `stale` first (the oldest come first)
                    oldest = next(iter(entries))
                    if now - entries[oldest][1] <= self._stale:
                        break
                    del entries[oldest]
                if len(entries) >= self._capacity:
                    del entries[next(iter(entries))]
            entries[key] = (value, now)

    def serve(self, key: K, error: BaseException | None = None) -> Served[V] | None:
        """Serves ``key`` from the cache tiers alone (recent, stale, default), without a
        live call; ``None`` when no tier can answer. ``error`` is passed on to
        :attr:`Served.error`."""
        now = self._now()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None:
            value, stored_at = entry
            age = max(0.0, now - stored_at)
            if age <= self._recent:
                return Served(value, CacheTier.RECENT, age, error)
            if age <= self._stale:
                return Served(value, CacheTier.STALE, age, error)
        if self._default is not _NO_DEFAULT:
            return Served(self._default, CacheTier.DEFAULT, None, error)
        return None

    def purge(self) -> int:
        """Drops values older than ``stale``; returns how many were dropped."""
        now = self._now()
        with self._lock:
            old = [k for k, (_, t) in self._entries.items() if now - t > self._stale]
            for k in old:
                del self._entries[k]
        return len(old)

    def clear(self) -> None:
        """Drops every value."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        """Keys held (usable or not)."""
        return len(self._entries)

    def _fall_back(self, key: K, exc: BaseException, rejected: bool) -> Served[V]:
        served = self.serve(key, exc)
        if served is None:
            raise GraduatedError(key, exc, rejected) from exc
        return served

    def _stored(self, key: K, value: V) -> Served[V]:
        self.insert(key, value)
        return Served(value, CacheTier.LIVE, 0.0)

    def call(
        self,
        key: K,
        breaker: CircuitBreaker | None,
        func: Callable[..., V],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Served[V]:
        """Calls ``func(*args, **kwargs)`` through ``breaker`` (``None``: unguarded); a
        returned value is stored under ``key`` and served live, otherwise the cache
        tiers answer. The breaker records the call as ``breaker.call`` would."""
        _breaker("breaker", breaker, optional=True)
        permit = None
        if breaker is not None:
            try:
                permit = breaker.acquire()
            except CircuitBreakerError as e:
                return self._fall_back(key, e, True)
        try:
            value = func(*args, **kwargs)
        except Exception as exc:
            if permit is not None:
                _settle_error(permit, exc)
            return self._fall_back(key, exc, False)
        except BaseException as exc:
            if permit is not None:
                permit._settle_error(exc)
            raise
        if inspect.isawaitable(value):
            raise _awaitable_returned("func", value, permit)
        if permit is not None:
            permit._settle_value(value)
        return self._stored(key, value)

    async def acall(
        self,
        key: K,
        breaker: CircuitBreaker | None,
        func: Callable[..., Awaitable[V]],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Served[V]:
        """Async :meth:`call`: awaits ``func(*args, **kwargs)``. If the calling task is
        cancelled while it runs, the permit is released and the cancellation
        propagates."""
        _breaker("breaker", breaker, optional=True)
        permit = None
        if breaker is not None:
            try:
                permit = breaker.acquire()
            except CircuitBreakerError as e:
                return self._fall_back(key, e, True)
        try:
            value = await func(*args, **kwargs)
        except Exception as exc:
            if permit is not None:
                _settle_error(permit, exc)
            return self._fall_back(key, exc, False)
        except BaseException as exc:
            if permit is not None:
                permit._settle_error(exc)
            raise
        if permit is not None:
            permit._settle_value(value)
        return self._stored(key, value)

    def __repr__(self) -> str:
        return f"<GraduatedCache recent={self._recent}s stale={self._stale}s keys={len(self)}>"


# ------------------------------------------------------------------------- hedging


class Leg(_NameEnum):
    """Which leg of a hedged call. Compares equal to its name."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


@dataclasses.dataclass(frozen=True)
class Hedged(Generic[T]):
    """A successful hedged call."""

    value: T
    answered_by: Leg
    hedged: bool
    """Whether a secondary was started."""


class HedgeError(Exception):
    """A hedged call that returned no value.

    Attributes:
        primary: the primary's error: its breaker's
            :class:`~tripgate.CircuitBreakerError`, or what the call raised.
        secondary: the secondary's error, if a hedge was attempted (rejected by its
            breaker, or failed); ``None`` when none was (the primary failed before the
            delay, or the cap was full).
        primary_rejected, secondary_rejected: whether that leg's breaker rejected it.

    Raised ``from`` the secondary's error when there is one, else the primary's.
    """

    def __init__(
        self,
        primary: BaseException,
        secondary: BaseException | None = None,
        primary_rejected: bool = False,
        secondary_rejected: bool = False,
    ) -> None:
        message = f"hedged call failed: primary: {primary!r}"
        if secondary is not None:
            message += f"; secondary: {secondary!r}"
        super().__init__(message)
        self.primary = primary
        self.secondary = secondary
        self.primary_rejected = primary_rejected
        self.secondary_rejected = secondary_rejected

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.primary, self.secondary, self.primary_rejected, self.secondary_rejected))


@dataclasses.dataclass(frozen=True)
class HedgeMetrics:
    """A reading of a hedge's figures (totals over its life)."""

    hedges: int
    """Secondaries started."""
    capped: int
    """Calls that reached their delay while the cap was full (no secondary started)."""
    secondary_rejected: int
    """Calls that reached their delay and whose secondary's breaker rejected it."""
    secondary_wins: int
    """Calls the secondary answered."""
    losers_cancelled: int
    """Calls answered while the other leg still ran (the loser, cancelled)."""
    in_flight: int
    """Secondaries running now."""
    delay: float
    """The delay in force, in seconds (for a percentile delay, the cached value)."""

    def as_dict(self) -> dict[str, Any]:
        """The figures as a plain (JSON-ready) dict."""
        return dataclasses.asdict(self)


# Cancelled losers, held until they finish unwinding (the event loop keeps only weak
# references to tasks).
_UNWINDING: set[asyncio.Future[Any]] = set()


def _reap(task: asyncio.Future[Any]) -> None:
    _UNWINDING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" warning


async def _run_leg(func: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    return await func(*args, **kwargs)


class _Leg:
    """One started leg: its permit, its task, and how it ended."""

    __slots__ = ("which", "permit", "task", "finished", "error")

    def __init__(self, which: Leg, permit: _core.Permit, task: asyncio.Future[Any]) -> None:
        self.which = which
        self.permit = permit
        self.task = task
        self.finished = False
        self.error: BaseException | None = None

    def settle(self) -> tuple[bool, Any]:
        """Records the finished task's outcome; ``(True, value)`` on success."""
        self.finished = True
        task = self.task
        if task.cancelled():
            exc: BaseException = asyncio.CancelledError()
        else:
            exc_or_none = task.exception()
            if exc_or_none is None:
                value = task.result()
                self.permit._settle_value(value)
                return True, value
            exc = exc_or_none
        _settle_error(self.permit, exc)
        self.error = exc
        return False, None

    def cancel(self) -> None:
        """Cancels the running task and records the leg as ignored."""
        self.finished = True
        self.task.cancel()
        _UNWINDING.add(self.task)
        self.task.add_done_callback(_reap)
        if not self.permit.done:
            self.permit.ignore()


class Hedge:
    """Hedged calls between two breakers (asyncio). Build it with :func:`hedge`.

    ``await hedge.call(primary, secondary, *args, **kwargs)`` starts
    ``primary(*args, **kwargs)`` through the primary breaker. If it has not answered
    after the hedge delay, ``secondary(*args, **kwargs)`` starts through the secondary
    breaker, and the first success wins (:class:`Hedged`). The other leg's task is
    cancelled (the hedge does not wait for it to unwind) and its permit recorded as
    *ignored*: a call cut short says nothing about the dependency. A failure does not
    end the race while the other leg runs.

    Hedging is about latency, not errors: a primary that fails before the delay raises
    its error (as :class:`HedgeError`) without a hedge, and a primary whose breaker
    rejects raises at once. Put the hedge in a :func:`fallback` step to move on after
    errors.

    The cap: at most ``max_in_flight`` secondaries run at once (across every call, task
    and thread using this hedge), so that hedging cannot double the load on a struggling
    dependency; a call that reaches its delay while the cap is full keeps waiting on its
    primary (counted in :attr:`HedgeMetrics.capped`).

    The delay: a number of seconds, or a percentile of the primary breaker's latency
    window (``"p50"``, ``"p90"``, ``"p95"``, ``"p99"``, ``"p999"``) clamped to
    ``[floor, ceiling]``. The percentile is re-read at most once per ``refresh``
    seconds (one caller per period reads it; the others use the cached delay); until
    the window holds ``min_samples`` timed calls, or if the breaker tracks no latency,
    the delay is the ceiling.

    Timers: the hedge sleeps through ``sleep`` (``asyncio.sleep`` unless given; any
    ``f(seconds) -> awaitable``, so tests can fire the delay by hand) and reads time for
    ``refresh`` from ``clock`` (``time.monotonic`` unless given).
    """

    def __init__(
        self,
        primary: CircuitBreaker,
        secondary: CircuitBreaker,
        *,
        delay: float | str,
        floor: float | None = None,
        ceiling: float | None = None,
        refresh: float = 1.0,
        min_samples: int = 20,
        max_in_flight: int = 8,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Clock | None = None,
    ) -> None:
        self._primary = cast(CircuitBreaker, _breaker("primary", primary))
        self._secondary = cast(CircuitBreaker, _breaker("secondary", secondary))
        self._percentile: str | None = None
        if isinstance(delay, str):
            if delay not in _QUANTILES:
                raise ValueError(f"invalid delay = {delay!r}: allowed a number of seconds >= 0 or one of {', '.join(_QUANTILES)}")
            if floor is None or ceiling is None:
                raise TypeError("a percentile delay needs floor and ceiling (seconds)")
            self._percentile = delay
            self._floor = _seconds("floor", floor)
            self._ceiling = _seconds("ceiling", ceiling)
            if self._ceiling < self._floor:
                raise ValueError(f"invalid ceiling = {ceiling!r}: allowed a number of seconds >= floor ({floor!r})")
            self._delay = self._ceiling
        else:
            if floor is not None or ceiling is not None:
                raise TypeError("floor and ceiling apply to a percentile delay (delay='p95', ...) only")
            self._delay = _seconds("delay", delay)
            self._floor = self._ceiling = self._delay
        self._refresh = _seconds("refresh", refresh)
        self._min_samples = _int("min_samples", min_samples, 0, 2**63 - 1)
        self._max_in_flight = _int("max_in_flight", max_in_flight, 0, 2**31 - 1)
        if not callable(sleep):
            raise TypeError(f"sleep must be a callable f(seconds) -> awaitable, got {type(sleep).__name__}")
        self._sleep = sleep
        self._now = _clock(clock)
        self._next_refresh = -math.inf
        self._refreshing = threading.Lock()
        # Guards the cap's counter and the figures; never held across an await.
        self._lock = threading.Lock()
        self._in_flight = 0
        self._counts = dict.fromkeys(("hedges", "capped", "secondary_rejected", "secondary_wins", "losers_cancelled"), 0)

    @property
    def primary(self) -> CircuitBreaker:
        """The primary's breaker."""
        return self._primary

    @property
    def secondary(self) -> CircuitBreaker:
        """The secondary's breaker."""
        return self._secondary

    @property
    def max_in_flight(self) -> int:
        """The most secondaries running at once (0: hedging is off)."""
        return self._max_in_flight

    def current_delay(self) -> float:
        """The hedge delay a call starting now would use, in seconds. For a percentile
        delay, reads the cache, and refreshes it from the primary breaker's latency
        window once ``refresh`` has passed."""
        if self._percentile is None:
            return self._delay
        now = self._now()
        if now >= self._next_refresh and self._refreshing.acquire(blocking=False):
            try:
                if now >= self._next_refresh:
                    self._next_refresh = now + self._refresh
                    latency = _core._breaker_latency(self._primary)
                    if latency is None or latency["count"] < self._min_samples:
                        self._delay = self._ceiling
                    else:
                        self._delay = min(max(latency[self._percentile], self._floor), self._ceiling)
            finally:
                self._refreshing.release()
        return self._delay

    def metrics(self) -> HedgeMetrics:
        """A reading of the figures."""
        with self._lock:
            return HedgeMetrics(in_flight=self._in_flight, delay=self._delay, **self._counts)

    def _count(self, figure: str) -> None:
        with self._lock:
            self._counts[figure] += 1

    def _take_slot(self) -> bool:
        with self._lock:
            if self._in_flight < self._max_in_flight:
                self._in_flight += 1
                return True
            self._counts["capped"] += 1
            return False

    def _give_slot(self) -> None:
        with self._lock:
            self._in_flight -= 1

    async def call(
        self,
        primary: Callable[..., Awaitable[T]],
        secondary: Callable[..., Awaitable[T]],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Hedged[T]:
        """Runs ``primary(*args, **kwargs)``, hedged by ``secondary(*args, **kwargs)``.

        Returns the first success as :class:`Hedged`; raises :class:`HedgeError` when
        neither leg answers. Each leg is recorded on its own breaker as
        ``breaker.acall`` would record it, except a cancelled loser (ignored).
        Cancelling the call cancels every leg still running and records it as ignored.
        """
        try:
            p_permit = self._primary.acquire()
        except CircuitBreakerError as e:
            raise HedgeError(e, None, primary_rejected=True) from e
        delay = self.current_delay()
        p = _Leg(Leg.PRIMARY, p_permit, asyncio.ensure_future(_run_leg(primary, args, kwargs)))
        s: _Leg | None = None
        s_error: BaseException | None = None
        holds_slot = False
        timer: asyncio.Future[Any] = asyncio.ensure_future(self._sleep(delay))
        try:
            done, _ = await asyncio.wait((p.task, timer), return_when=asyncio.FIRST_COMPLETED)
            timer.cancel()
            if p.task not in done and self._take_slot():
                # The delay passed and the primary has not answered: hedge.
                holds_slot = True
                try:
                    s_permit = self._secondary.acquire()
                except CircuitBreakerError as e:
                    self._give_slot()
                    holds_slot = False
                    self._count("secondary_rejected")
                    s_error = e
                else:
                    self._count("hedges")
                    s = _Leg(Leg.SECONDARY, s_permit, asyncio.ensure_future(_run_leg(secondary, args, kwargs)))
            while True:
                running = [leg.task for leg in (p, s) if leg is not None and not leg.finished]
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for leg in (p, s):  # the primary first, when both answered in one turn
                    if leg is None or leg.finished or leg.task not in done:
                        continue
                    ok, value = leg.settle()
                    if leg is s and holds_slot:
                        self._give_slot()
                        holds_slot = False
                    if not ok:
                        continue
                    other = s if leg is p else p
                    if other is not None and not other.finished:
                        if other.task.done():
                            other.settle()  # it answered in the same turn: its own outcome
                        else:
                            other.cancel()
                            self._count("losers_cancelled")
                    if leg is s:
                        self._count("secondary_wins")
                    return Hedged(value, leg.which, s is not None)
            assert p.error is not None
            if s is not None:
                s_error = s.error
            raise HedgeError(
                p.error, s_error, secondary_rejected=s is None and s_error is not None
            ) from (s_error if s_error is not None else p.error)
        except BaseException:
            # Cancelled from outside (or a broken classify hook): every leg still running
            # is cancelled and recorded as ignored.
            for leg in (p, s):
                if leg is not None and not leg.finished:
                    leg.cancel()
            raise
        finally:
            timer.cancel()
            if holds_slot:
                self._give_slot()

    def __repr__(self) -> str:
        delay = self._percentile or f"{self._delay}s"
        return f"<Hedge primary={self._primary.name!r} secondary={self._secondary.name!r} delay={delay}>"


def hedge(
    primary: CircuitBreaker,
    secondary: CircuitBreaker,
    *,
    delay: float | str,
    floor: float | None = None,
    ceiling: float | None = None,
    refresh: float = 1.0,
    min_samples: int = 20,
    max_in_flight: int = 8,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Clock | None = None,
) -> Hedge:
    """A :class:`Hedge` between ``primary`` and ``secondary`` breakers (asyncio)::

        h = tripgate.hedge(primary_breaker, replica_breaker, delay="p95", floor=0.01, ceiling=0.5)
        answer = await h.call(fetch_primary, fetch_replica, key)
        answer.value, answer.answered_by, answer.hedged

    ``delay`` is seconds, or a percentile (``"p50"`` ... ``"p999"``) of the primary
    breaker's latency window clamped to ``[floor, ceiling]`` and re-read at most every
    ``refresh`` seconds once ``min_samples`` timed calls are in the window.
    ``max_in_flight`` caps the secondaries running at once (0 turns hedging off).
    ``sleep`` and ``clock`` replace ``asyncio.sleep`` and ``time.monotonic`` (tests).
    """
    return Hedge(
        primary,
        secondary,
        delay=delay,
        floor=floor,
        ceiling=ceiling,
        refresh=refresh,
        min_samples=min_samples,
        max_in_flight=max_in_flight,
        sleep=sleep,
        clock=clock,
    )


# ------------------------------------------------------------------------ bulkhead


class BulkheadFullError(Exception):
    """Raised instead of making a call a full :class:`Bulkhead` does not admit.

    Attributes:
        name: the bulkhead's name (``None`` if it has none).
        limit: the bulkhead's limit.
    """

    def __init__(self, message: str = "bulkhead is full", name: str | None = None, limit: int = 0) -> None:
        super().__init__(message)
        self.name = name
        self.limit = limit

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.name, self.limit))


_core._set_bulkhead_error_class(BulkheadFullError)


@dataclasses.dataclass(frozen=True)
class BulkheadMetrics:
    """A reading of a bulkhead's figures (totals over its life)."""

    limit: int
    in_flight: int
    """Slots held now."""
    waiting: int
    """Async callers waiting for a slot now."""
    admitted: int
    """Calls admitted (at once or after a wait)."""
    rejected: int
    """Calls refused at once (no wait)."""
    wait_timeouts: int
    """Async waits that ran out of time."""
    admitted_after_wait: int
    """Async calls admitted after waiting."""

    def as_dict(self) -> dict[str, Any]:
        """The figures as a plain (JSON-ready) dict."""
        return dataclasses.asdict(self)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _waker(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> Callable[[], bool]:
    def wake() -> bool:
        try:
            loop.call_soon_threadsafe(_resolve, fut)
        except RuntimeError:  # its event loop is closed: wake someone else
            return False
        return True

    return wake


class Bulkhead(_core.Bulkhead):
    """A concurrency limit for one dependency: at most ``limit`` calls in flight.

    A breaker reacts to a dependency that fails; a bulkhead caps how much of *this*
    service one dependency can tie up while it is merely slow. Admission is the Rust
    crate's wait-free counter (one atomic add and a compare); a full bulkhead raises
    :class:`BulkheadFullError` and counts a rejection in :meth:`metrics`.

    Use it as a decorator (sync functions and ``async def``), with :meth:`call` /
    :meth:`acall`, as ``with bulkhead:`` / ``async with bulkhead:``, or explicitly with
    :meth:`acquire` / :meth:`try_acquire` / :meth:`acquire_async`, which return a
    :class:`BulkheadSlot` to ``release()`` (or use as ``with slot:``).

    Sync admission never waits. Async admission (``async with``, decorated coroutines,
    :meth:`acall`, :meth:`acquire_async`) waits up to ``max_wait`` seconds (default 0:
    no wait) for a slot to free; a freed slot wakes one waiter (from any thread), and
    waiting is not FIFO. ``sleep`` replaces ``asyncio.sleep`` for the wait's deadline
    (tests).

    Composing with a breaker: outside the breaker (``with bulkhead, breaker:``, or
    ``@bulkhead`` above ``@breaker``), a full bulkhead refuses the call before the
    breaker is asked, which is the usual choice. Inside it (``with breaker, bulkhead:``)
    the breaker sees :class:`BulkheadFullError` raised by its block and, unless its
    ``classify`` hook says otherwise, counts it neither way: the call never reached the
    dependency (the fallback, cache and hedge patterns record it as ignored too).
    """

    _max_wait: float
    _sleep: Callable[[float], Awaitable[object]]
    _async_stack: contextvars.ContextVar[tuple[_core.BulkheadSlot, ...]]

    def __new__(
        cls,
        limit: int,
        *,
        max_wait: float = 0.0,
        name: str | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> Bulkhead:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        wait = _seconds("max_wait", max_wait)
        if not callable(sleep):
            raise TypeError(f"sleep must be a callable f(seconds) -> awaitable, got {type(sleep).__name__}")
        self = super().__new__(cls, limit, name=name)
        self._max_wait = wait
        self._sleep = sleep
        self._async_stack = contextvars.ContextVar(f"tripgate-bulkhead-{id(self)}", default=())
        return self

    def __init__(self, limit: int, **options: Any) -> None:
        # Everything happens in __new__.
        pass

    @property
    def max_wait(self) -> float:
        """Seconds an async caller waits for a slot (0: none)."""
        return self._max_wait

    def metrics(self) -> BulkheadMetrics:
        """A reading of the figures."""
        return BulkheadMetrics(**self._metrics())

    # ------------------------------------------------------------------- waiting

    async def acquire_async(self, max_wait: float | None = None) -> _core.BulkheadSlot:
        """Takes a slot, waiting up to ``max_wait`` seconds (the bulkhead's own
        ``max_wait`` unless given) for one to free; raises :class:`BulkheadFullError`
        when none does (counted as rejected without a wait, as a wait timeout with one).
        Cancelling the wait gives it up."""
        wait = self._max_wait if max_wait is None else _seconds("max_wait", max_wait)
        if wait <= 0:
            return self.acquire()
        slot = self._take(False)
        if slot is not None:
            return slot
        loop = asyncio.get_running_loop()
        timer: asyncio.Future[Any] = asyncio.ensure_future(self._sleep(wait))
        token: int | None = None
        try:
            while True:
                # Queue first, then look: a slot freed between the two wakes this waiter.
                woken: asyncio.Future[None] = loop.create_future()
                token = self._add_waiter(_waker(loop, woken))
                slot = self._take(True)
                if slot is not None:
                    self._remove_waiter(token)  # if it was woken, it took the freed slot
                    token = None
                    return slot
                await asyncio.wait((woken, timer), return_when=asyncio.FIRST_COMPLETED)
                if woken.done():
                    token = None  # the waker took it out of the queue
                    continue
                was_woken = not self._remove_waiter(token)
                token = None
                slot = self._take(True)  # one last look as the deadline passes
                if slot is not None:
                    return slot
                if was_woken:
                    self._wake_one()
                self._note_wait_timeout()
                which = "bulkhead" if self.name is None else f'bulkhead "{self.name}"'
                raise BulkheadFullError(
                    f"{which} is full: {self.limit} of {self.limit} slots in use (waited {wait}s)",
                    self.name,
                    self.limit,
                )
        except BaseException:
            if token is not None and not self._remove_waiter(token):
                self._wake_one()  # woken, but leaving without a slot: pass it on
            raise
        finally:
            timer.cancel()

    # ------------------------------------------------------------- calls, with

    async def acall(self, func: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Awaits ``func(*args, **kwargs)`` holding a slot (waiting up to ``max_wait``)."""
        slot = await self.acquire_async()
        try:
            return await func(*args, **kwargs)
        finally:
            slot.release()

    async def __aenter__(self) -> Bulkhead:
        _push_held(self._async_stack, await self.acquire_async())
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        _pop_held(self._async_stack).release()

    def __call__(self, func: F) -> F:
        """Decorates a function or coroutine function: each call holds a slot (sync
        calls never wait; coroutines wait up to ``max_wait``)."""
        if not callable(func):
            raise TypeError(f"{type(self).__name__} decorates callables, got {type(func).__name__}")
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                "a bulkhead decorates functions and coroutine functions, not generators: "
                "use `with bulkhead:` / `async with bulkhead:` inside the generator"
            )
        if inspect.iscoroutinefunction(func):
            acquire_async = self.acquire_async

            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                slot = await acquire_async()
                try:
                    return await func(*args, **kwargs)
                finally:
                    slot.release()

            wrapper: Any = guarded_async
        else:
            call = self.call

            def guarded(*args: Any, **kwargs: Any) -> Any:
                return call(func, *args, **kwargs)

            wrapper = guarded
        functools.update_wrapper(wrapper, func)
        return cast(F, wrapper)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} limit={self.limit} in_flight={self.in_flight}>"
