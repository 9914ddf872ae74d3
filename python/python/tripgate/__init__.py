"""tripgate: a lock-free circuit breaker with a Rust core.

A breaker stops a service from hammering a failing dependency: **closed** (calls flow,
outcomes are counted) -> **open** (calls are rejected at once) -> **half_open** (a few
probes decide) -> closed, or open again.

Quick start::

    import tripgate

    breaker = tripgate.CircuitBreaker(fail_max=5, reset_timeout=30, name="db")

    @breaker
    def fetch(key):
        ...

    try:
        fetch("k")
    except tripgate.CircuitBreakerError as e:
        print(f"{e.name} is {e.state}; retry in {e.retry_after}s")

Every rule, counter and transition lives in the Rust engine (``tripgate._core``); this
module only turns keyword options into the engine's config, classifies exceptions into
outcomes and dispatches transition events.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import dataclasses
import enum
import functools
import inspect
import json
import logging
import os
import sys
import threading
import weakref
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
)
import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypedDict, TypeVar, Union, cast, overload

if TYPE_CHECKING:
    from typing_extensions import Unpack

from . import _core
from ._core import Fleet, ManualClock, Permit

__all__ = [
    "BreakerOptions",
    "CallEvent",
    "CircuitBreaker",
    "CircuitBreakerError",
    "CircuitOpenError",
    "CircuitBreakerListener",
    "ConfigError",
    "FailureKind",
    "Fleet",
    "LatencySummary",
    "ManualClock",
    "Metrics",
    "Outcome",
    "Permit",
    "State",
    "Transition",
    "__version__",
]

__version__: str = _core.__version__

logger = logging.getLogger("tripgate")

# Guards the rare copy-on-write updates of listener and exclusion tuples (free-threaded
# builds have no GIL to make a read-modify-write of an attribute atomic). Never held
# across a user call or a listener.
_REGISTRY_LOCK = threading.Lock()

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
P = ParamSpec("P")

Duration = Union[float, str, datetime.timedelta]
"""A duration: seconds (``30``, ``0.25``), text (``"250ms"``, ``"1m30s"``) or a ``timedelta``."""


def _push_held(stack: contextvars.ContextVar[tuple[T, ...]], held: T) -> None:
    """Remembers what an ``async with`` holds, in the calling context: concurrent tasks
    sharing one guard each see their own."""
    stack.set(stack.get() + (held,))


def _pop_held(stack: contextvars.ContextVar[tuple[T, ...]]) -> T:
    """What the matching ``async with`` holds, forgotten here."""
    held = stack.get()
    if not held:
        raise RuntimeError("__aexit__ without a matching __aenter__ in this context")
    stack.set(held[:-1])
    return held[-1]

_timeout_scope: Callable[[float | None], contextlib.AbstractAsyncContextManager[Any]] | None = getattr(
    asyncio, "timeout", None
)


async def _await_guarded(permit: _core.Permit, awaitable: Awaitable[T]) -> T:
    """Awaits a guarded call, cut short at its permit's deadline (``call_timeout``) by
    asyncio cancellation, and settles the permit: a call cut short at the deadline is a
    timeout (it raises ``TimeoutError``); one its caller cancels (``wait_for``,
    ``asyncio.timeout``, ``Task.cancel``) is a timeout once it ran past its deadline or
    ``slow_call_duration``, and released, counted neither way, before that."""
    left = permit.time_left
    try:
        if left is None:
            result = await awaitable
        elif _timeout_scope is not None:
            async with _timeout_scope(left):
                result = await awaitable
        else:  # Python 3.10: no asyncio.timeout
            result = await asyncio.wait_for(awaitable, left)
    except BaseException as exc:
        permit._settle_error(exc)
        raise
    permit._settle_value(result)
    return result


# --------------------------------------------------------------------------- errors


class CircuitBreakerError(Exception):
    """Raised instead of making a call the breaker does not admit.

    The message is the engine's, e.g. ``circuit breaker 'db' is open (5 consecutive
    failures >= 5): call rejected, retry after 30s``.

    Attributes:
        name: the breaker's name (``None`` if it has none).
        state: the state that rejected the call (``"open"``, ``"half_open"``, ...).
        retry_after: seconds until a call may be admitted, when known.
        reason: the name of the reason of the last opening (``"failure_rate"``,
            ``"consecutive_failures"``, ``"manual"``, ...) while the state is an open
            one; ``None`` otherwise.
    """

    def __init__(
        self,
        message: str = "circuit breaker is open",
        name: str | None = None,
        state: str = "open",
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.state = state
        self.retry_after = retry_after
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.name, self.state, self.retry_after, self.reason))


CircuitOpenError = CircuitBreakerError
"""Alias of :class:`CircuitBreakerError`."""


class ConfigError(ValueError):
    """An option or config value outside its allowed range.

    Attributes:
        option: the keyword option (or config field) at fault.
        field: the engine's dotted config field (``open.duration``).
        allowed: the allowed range, as text.
    """

    def __init__(self, message: str, option: str = "", field: str = "", allowed: str | None = None) -> None:
        super().__init__(message)
        self.option = option
        self.field = field
        self.allowed = allowed


_core._set_error_classes(CircuitBreakerError, ConfigError)

# Fleets still running at exit are closed while Python still runs: their opinions are
# withdrawn from the store and their holds released (see tripgate.Fleet).
atexit.register(_core._close_fleets)



# -------------------------------------------------------------------------- outcomes


class _NameEnum(str, enum.Enum):
    """An enum whose members are their names: equal to them, and printed as them."""

    def __str__(self) -> str:
        return str(self.value)


class State(_NameEnum):
    """A breaker's state. Compares equal to its name (``State.OPEN == "open"``).
    The names are the engine's (``_core.STATES``, in code order)."""

    CLOSED = _core.STATES[0]
    OPEN = _core.STATES[1]
    HALF_OPEN = _core.STATES[2]
    FORCED_OPEN = _core.STATES[3]
    FORCED_CLOSED = _core.STATES[4]
    DISABLED = _core.STATES[5]
    METRICS_ONLY = _core.STATES[6]


class FailureKind(_NameEnum):
    """Why a call failed; each kind has its own weight in the failure rate. The names
    are the engine's (``_core.FAILURE_KINDS``, in code order)."""

    TIMEOUT = _core.FAILURE_KINDS[0]
    CONNECTION = _core.FAILURE_KINDS[1]
    SERVER_ERROR = _core.FAILURE_KINDS[2]
    REJECTED = _core.FAILURE_KINDS[3]
    OTHER = _core.FAILURE_KINDS[4]


class Outcome(_NameEnum):
    """What a ``classify`` hook may answer. A failure kind's name (or a
    :class:`FailureKind`) is a failure of that kind; ``"failure"`` is kind ``other``."""

    SUCCESS = "success"
    FAILURE = "failure"
    IGNORED = "ignored"
    RELEASE = "release"
    TIMEOUT = _core.FAILURE_KINDS[0]
    CONNECTION = _core.FAILURE_KINDS[1]
    SERVER_ERROR = _core.FAILURE_KINDS[2]
    REJECTED = _core.FAILURE_KINDS[3]
    OTHER = _core.FAILURE_KINDS[4]


_SUCCESS = _core.OUTCOME_SUCCESS
_IGNORED = _core.OUTCOME_IGNORED
_RELEASE = _core.OUTCOME_RELEASE
_FAIL = {k: _core.OUTCOME_FAILURE + i for i, k in enumerate(_core.FAILURE_KINDS)}
_OTHER = _FAIL["other"]

_CODES: dict[Any, int] = {
    "success": _SUCCESS,
    True: _SUCCESS,
    "ignored": _IGNORED,
    "ignore": _IGNORED,
    "release": _RELEASE,
    "failure": _OTHER,
    False: _OTHER,
    **_FAIL,
}

def _outcome_code(answer: Any, hook: Any) -> int | None:
    if answer is None:
        return None
    if isinstance(answer, enum.Enum):
        answer = answer.value
    try:
        return _CODES[answer]
    except (KeyError, TypeError):
        raise ValueError(
            f"classify hook {hook!r} returned {answer!r}: allowed None, 'success', "
            f"'ignored', 'release', 'failure' or a failure kind "
            f"({', '.join(_core.FAILURE_KINDS)})"
        ) from None


_UNSET: Any = object()


class BreakerOptions(TypedDict, total=False):
    """The engine options :class:`CircuitBreaker` and its ``reconfigure`` take (their
    names match ``tripgate._core.OPTIONS``, where they are checked)."""

    fail_max: int | None
    reset_timeout: Duration
    success_threshold: int
    failure_rate_threshold: float | None
    minimum_calls: int
    window_size: int
    window_duration: Duration
    window_buckets: int | None
    slow_call_duration: Duration
    slow_call_rate_threshold: float | None
    latency_percentile: tuple[float | str, Duration] | None
    failure_weights: Mapping[str, float]
    max_reset_timeout: Duration
    backoff_multiplier: float
    jitter: float
    backoff_decay: Duration
    half_open_permits: int
    half_open_max_wait: Duration
    slow_start: tuple[float, Duration] | None
    track_latency: bool
    histogram_precision: int
    track_in_flight: bool
    seed: int | None
    adaptive_threshold: bool | Mapping[str, float] | None
    anti_thrash: tuple[Duration, Duration] | None
    initial_state: str
    call_timeout: Duration | None


# -------------------------------------------------------------------------- metrics


@dataclasses.dataclass(frozen=True)
class LatencySummary:
    """Latency over the window, in seconds."""

    count: int
    p50: float
    p90: float
    p95: float
    p99: float
    p999: float
    mean: float
    max: float


@dataclasses.dataclass(frozen=True)
class Metrics:
    """A point-in-time reading of a breaker: every figure of the engine's snapshot.

    Totals are over the breaker's life; rates and latencies over the sliding window.
    Durations are in seconds; ``last_failure`` is a wall time in seconds since the epoch.
    """

    state: str
    generation: int
    time_in_state: float
    transitions: int
    calls: int
    successes: int
    failures: int
    failures_by_kind: dict[str, int]
    ignored: int
    slow_calls: int
    rejected: int
    abandoned: int
    in_flight: int | None
    half_open_probes: int
    half_open_successes: int
    """Successful probes so far in the current half-open state (0 in any other state)."""
    window_calls: int
    failure_rate: float
    """Weighted failure rate over the window's calls, whatever their number (0.0 for an
    empty window). The rules compare it only once ``window_calls`` reaches
    ``minimum_calls``; resilience4j, and tripgate's Prometheus gauge, say -1 below that."""
    slow_call_rate: float
    """Slow-call rate over the window's calls, read as ``failure_rate`` is."""
    consecutive_failures: int
    last_failure: float | None
    retry_after: float | None
    backoff_level: int
    latency: LatencySummary | None
    listener_panics: int
    transitions_last_minute: int
    """Transitions in the last minute: a high figure is flapping."""
    effective_failure_rate_threshold: float | None
    """The failure-rate threshold in force (adapted when ``adaptive_threshold`` is set)."""
    call_durations: dict[str, float] | None
    """Summed duration in seconds of the calls measured since the breaker was built, by
    kind (``successful``, ``failed``, ``ignored``); ``None`` while the breaker measures
    nothing (latency tracking off, no ``call_timeout``, no latency given)."""

    def as_dict(self) -> dict[str, Any]:
        """The figures as a plain (JSON-ready) dict."""
        return dataclasses.asdict(self)


# ------------------------------------------------------------------------ listeners


@dataclasses.dataclass(frozen=True)
class Transition:
    """One state change, as listeners see it."""

    breaker: CircuitBreaker
    from_state: str
    to_state: str
    reason: str
    """Short stable name: ``failure_rate``, ``consecutive_failures``, ``probe_failed``..."""
    description: str
    """Human-readable reason, e.g. ``5 consecutive failures >= 5``."""
    generation: int
    open_for: float | None
    """For a transition to open: how long it stays open, in seconds (jitter included)."""
    at: float
    """Wall time of the transition, seconds since the epoch."""


class CircuitBreakerListener:
    """pybreaker-style listener: override :meth:`state_change`.

    Per-call hooks (``before_call``, ``success``, ``failure``) are not called here;
    per-call events go to :meth:`CircuitBreaker.add_call_listener`, and
    :mod:`tripgate.pybreaker` calls pybreaker's hooks from them.
    """

    def state_change(self, cb: CircuitBreaker, old_state: str, new_state: str) -> None:
        """Called after every transition, outside every lock."""


Listener = Union[Callable[[Transition], Any], CircuitBreakerListener]


def _make_dispatch(ref: weakref.ReferenceType[CircuitBreaker]) -> Callable[..., None]:
    def dispatch(
        from_state: str,
        to_state: str,
        reason: str,
        description: str,
        generation: int,
        open_for: float | None,
        at: float,
    ) -> None:
        breaker = ref()
        if breaker is None:
            return
        listeners = breaker._listeners
        if not listeners:
            return
        event = Transition(breaker, from_state, to_state, reason, description, generation, open_for, at)
        for listener in listeners:
            try:
                if isinstance(listener, CircuitBreakerListener):
                    listener.state_change(breaker, from_state, to_state)
                else:
                    listener(event)
            except Exception:
                logger.exception(
                    "tripgate: listener %r of breaker %r raised on %s -> %s",
                    listener,
                    breaker.name,
                    from_state,
                    to_state,
                )

    return dispatch


@dataclasses.dataclass(frozen=True)
class CallEvent:
    """One call's fate, as call listeners see it (:meth:`CircuitBreaker.add_call_listener`)."""

    breaker: CircuitBreaker
    event: str
    """``before_call`` (admitted, about to run: every guarded call, ``with`` block and
    ``acquire()``), then ``success``, ``failure`` or ``ignored``; or ``rejected``."""
    failure_kind: str | None
    """For a failure: its kind (``timeout``, ``connection``, ``server_error``, ``rejected``, ``other``)."""
    latency: float | None
    """For a success or a failure: its latency in seconds, when the breaker measures it."""
    state: str | None
    """For a rejection: the state that rejected the call."""


CallListener = Callable[[CallEvent], Any]


def _make_call_dispatch(ref: weakref.ReferenceType[CircuitBreaker]) -> Callable[..., None]:
    def dispatch(event: str, failure_kind: str | None, latency: float | None, state: str | None) -> None:
        breaker = ref()
        if breaker is None:
            return
        listeners = breaker._call_listeners
        if not listeners:
            return
        call = CallEvent(breaker, event, failure_kind, latency, state)
        for listener in listeners:
            try:
                listener(call)
            except Exception:
                logger.exception("tripgate: call listener %r of breaker %r raised on %s", listener, breaker.name, event)

    return dispatch


# --------------------------------------------------------------------------- breaker

ExcludeRule = Union[type[BaseException], Callable[[BaseException], bool]]
ClassifyHook = Callable[[Union[BaseException, None], Any], Any]


class CircuitBreaker(_core.Breaker):
    """A circuit breaker.

    Use it as a decorator (sync and ``async def`` functions, generators), with
    :meth:`call` / :meth:`acall`, as ``with breaker:`` / ``async with breaker:``, or
    explicitly with :meth:`acquire`. Thread-safe and lock-free: many threads may call
    through one breaker at once; no lock is held while a call runs.

    Options (all keyword-only; ``None`` switches a rule off). A duration is seconds
    (``30``, ``0.25``), text (``"250ms"``, ``"1m30s"``) or a ``datetime.timedelta``; a
    value outside its range raises :class:`ConfigError` naming the option and the range:

    - ``fail_max``: trip after this many failures in a row (pybreaker's option). When
      given (not None) without ``failure_rate_threshold``, the failure-rate rule is switched off
      so the breaker behaves like pybreaker's.
    - ``reset_timeout``: how long the breaker stays open before a probe (default 30).
    - ``success_threshold``: successful probes needed to close (default 1).
    - ``exclude``: exception types, or predicates ``f(exc) -> bool``, whose exceptions
      say nothing about the dependency: counted neither way, whatever ``classify`` says.
    - ``listeners``: callables ``f(Transition)`` or :class:`CircuitBreakerListener`.
    - ``name``: shown in errors and logs.
    - ``failure_rate_threshold`` (0..1) over the window once ``minimum_calls`` calls are
      in it; ``window_size`` (a count window) or ``window_duration`` (a time window)
      with ``window_buckets``.
    - ``slow_call_duration`` and ``slow_call_rate_threshold``; ``latency_percentile``
      as ``(0.99, 0.25)`` or ``("p99", 0.25)``; ``failure_weights`` by kind.
    - ``half_open_permits`` probes in flight, ``half_open_max_wait`` lease.
    - ``max_reset_timeout``, ``backoff_multiplier``, ``jitter``, ``backoff_decay``: the
      open duration grows by the multiplier on each re-trip, up to the cap, plus a
      random fraction, and decays after a healthy period.
    - ``slow_start``: ``(initial_fraction, seconds)`` admission ramp after closing.
    - ``track_latency``, ``histogram_precision``, ``track_in_flight``, ``seed``.
    - ``adaptive_threshold``: ``True`` (the default bounds) or a dict of its
      options: the failure-rate threshold follows volume and streaks within bounds.
    - ``anti_thrash``: ``(min_closed_seconds, min_open_seconds)``: no re-trip sooner than
      ``min_closed`` after recovering, no opening shorter than ``min_open``.
    - ``initial_state``: the state the breaker starts in (a :class:`State` or its name;
      default ``closed``); construction only. ``open`` starts an opening of
      ``reset_timeout``.
    - ``call_timeout``: how long a guarded call may take (default ``None``: no limit).
      An async call (``acall``, a decorated coroutine, ``async with``) is cut short
      there by asyncio cancellation and raises ``TimeoutError``; any guarded call that
      ends at or after it is recorded as a timeout, whatever it returned. A call its
      caller cancels (``asyncio.wait_for``, ``asyncio.timeout``, ``Task.cancel``) is a
      timeout once it ran past ``call_timeout`` or ``slow_call_duration``, and counted
      neither way before that.
    - ``tier``: start from a preset (``critical``, ``standard`` (default),
      ``non_critical``) instead of the standard tier.
    - ``classify``: ``f(exc, result)`` -> an :class:`Outcome` (or its name) or ``None``
      for the default; called with ``(exc, None)`` when the call raised an
      ``Exception`` and ``(None, result)`` when it returned.
    - ``clock``: a :class:`ManualClock`, for tests.
    - ``fleet``: a :class:`Fleet`: the breaker is attached to it under ``name``
      (required with it, 1 to 64 of ``A-Z a-z 0-9 _ . -``, the same name on every
      replica), so replicas share what their breakers learn (fleet mode). The breaker
      keeps the fleet running as long as it lives; ``fleet.detach(name)`` stops sharing.
    """

    if not TYPE_CHECKING:
        # `with breaker:` looks `__enter__`/`__exit__` up on the type and would bind
        # them anew (an allocation each) on every statement; these hand out methods
        # bound once per breaker (see `_core.WithMethod`). Typed as the base class's.
        __enter__ = _core.WithMethod("enter")
        __exit__ = _core.WithMethod("exit")

    _listeners: tuple[Listener, ...]
    _call_listeners: tuple[CallListener, ...]
    _exclude_types: tuple[type[BaseException], ...]
    _exclude_predicates: tuple[Callable[[BaseException], bool], ...]
    _classify: ClassifyHook | None
    _deadline_scopes: contextvars.ContextVar[tuple[Any, ...]]
    _fleet: Fleet | None

    def __new__(
        cls,
        *,
        exclude: Iterable[ExcludeRule] = (),
        listeners: Iterable[Listener] = (),
        name: str | None = None,
        tier: str = "standard",
        classify: ClassifyHook | None = None,
        clock: ManualClock | None = None,
        fleet: Fleet | None = None,
        **options: Unpack[BreakerOptions],
    ) -> CircuitBreaker:
        if not isinstance(tier, str):
            raise TypeError(f"tier must be a str, got {type(tier).__name__}")
        return cls._create(None, dict(options), tier, exclude, listeners, name, classify, clock, fleet)

    @classmethod
    def _create(
        cls,
        source: Mapping[str, Any] | str | None,
        options: dict[str, Any] | None,
        tier: str,
        exclude: Iterable[ExcludeRule],
        listeners: Iterable[Listener],
        name: str | None,
        classify: ClassifyHook | None,
        clock: ManualClock | None,
        fleet: Fleet | None = None,
    ) -> CircuitBreaker:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if fleet is not None:
            if not isinstance(fleet, Fleet):
                raise TypeError(f"fleet must be a tripgate.Fleet, got {type(fleet).__name__}")
        if clock is not None and not isinstance(clock, ManualClock):
            raise TypeError(f"clock must be a tripgate.ManualClock, got {type(clock).__name__}")
        if classify is not None and not callable(classify):
            raise TypeError("classify must be a callable f(exc, result)")
        types, predicates = _split_exclude(exclude)
        listeners = _check_listeners(listeners)
        self = super().__new__(
            cls, source, options=options, tier=tier, clock=clock, name=name, classify_results=classify is not None
        )
        self._exclude_types = types
        self._exclude_predicates = predicates
        self._classify = classify
        self._listeners = listeners
        self._call_listeners = ()
        # The deadline scopes of the `async with` statements open on this breaker, per
        # context (each task sees its own), paired with the permits `_hold` keeps.
        self._deadline_scopes = contextvars.ContextVar(
            "tripgate_deadline_scopes", default=()
        )
        self._subscribe(_make_dispatch(weakref.ref(self)))
        self._fleet = None
        if fleet is not None:
            shared_as = self.name  # the keyword's, or the config's
            if not shared_as:
                raise ConfigError(
                    "invalid name = None: a breaker attached to a fleet needs a name (1 to 64 "
                    "of A-Z a-z 0-9 _ . -, the same on every replica): replicas share a breaker "
                    "by its name",
                    "name",
                    "name",
                    "1 to 64 of A-Z a-z 0-9 _ . -",
                )
            fleet.attach(shared_as, self)
            self._fleet = fleet
        return self

    @classmethod
    def from_config(
        cls,
        source: Mapping[str, Any] | str | os.PathLike[str],
        *,
        exclude: Iterable[ExcludeRule] = (),
        listeners: Iterable[Listener] = (),
        name: str | None = None,
        classify: ClassifyHook | None = None,
        clock: ManualClock | None = None,
        fleet: Fleet | None = None,
    ) -> CircuitBreaker:
        """A breaker from the same TOML/JSON config the Rust ``Config`` reads.

        ``source`` is a dict in that schema (durations as ``"30s"`` text or as numbers
        of seconds) or the path of a ``.toml`` / ``.json`` file. ``fleet`` attaches it
        to a :class:`Fleet` under ``name``, as in the constructor.
        """
        config: Mapping[str, Any] | str
        if isinstance(source, Mapping):
            config = source
        elif isinstance(source, (str, os.PathLike)):
            with open(source, encoding="utf-8") as f:
                config = f.read()
        else:
            raise TypeError(f"source must be a dict or a path, got {type(source).__name__}")
        return cls._create(config, None, "standard", exclude, listeners, name, classify, clock, fleet)

    # ------------------------------------------------------------- classification

    def _classify_error(self, exc: BaseException) -> int:
        if not isinstance(exc, Exception):
            return _RELEASE  # KeyboardInterrupt, SystemExit, CancelledError, GeneratorExit
        # Exclusions first: an excluded exception is ignored whatever `classify` says
        # (as resilience4j's ignored exceptions win over its record predicate), so a
        # shared hook such as `tripgate.http.classify` cannot undo a breaker's own list.
        if self._exclude_types and isinstance(exc, self._exclude_types):
            return _IGNORED
        for predicate in self._exclude_predicates:
            if predicate(exc):
                return _IGNORED
        if self._classify is not None:
            code = _outcome_code(self._classify(exc, None), self._classify)
            if code is not None:
                return code
        if isinstance(exc, BulkheadFullError):
            # A local bulkhead refused the call: it never reached the dependency.
            return _IGNORED
        return super()._classify_error(exc)  # the engine's default: by exception type

    def _classify_result(self, value: Any) -> int:
        hook = self._classify
        if hook is None:
            return _SUCCESS
        code = _outcome_code(hook(None, value), hook)
        return _SUCCESS if code is None else code

    # ---------------------------------------------------------------- decorator

    @overload
    def __call__(self, func: F) -> F: ...

    @overload
    def __call__(self, func: None = None) -> Callable[[F], F]: ...

    def __call__(self, func: Any = None) -> Any:
        """Decorates a function, coroutine function, generator or async generator."""
        if func is None:
            return self.__call__
        if not callable(func):
            raise TypeError(f"{type(self).__name__} decorates callables, got {type(func).__name__}")
        if inspect.isasyncgenfunction(func):
            wrapper: Any = self._wrap_async_gen(func)
        elif inspect.iscoroutinefunction(func):
            wrapper = self._wrap_coroutine(func)
        elif inspect.isgeneratorfunction(func):
            wrapper = self._wrap_generator(func)
        else:
            wrapper = self._guard(func)
        functools.update_wrapper(wrapper, func)
        return wrapper

    def _wrap_coroutine(self, func: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        acquire = self.acquire

        async def guarded(*args: Any, **kwargs: Any) -> T:
            permit = acquire()
            return await _await_guarded(permit, func(*args, **kwargs))

        return guarded

    def _wrap_generator(self, func: Callable[..., Generator[Any, Any, T]]) -> Callable[..., Generator[Any, Any, T]]:
        acquire = self.acquire

        def guarded(*args: Any, **kwargs: Any) -> Generator[Any, Any, T]:
            # Admission happens when iteration starts; the call ends when it stops.
            permit = acquire()
            try:
                result = yield from func(*args, **kwargs)
            except BaseException as exc:
                permit._settle_error(exc)
                raise
            permit._settle_value(result)
            return result

        return guarded

    def _wrap_async_gen(self, func: Callable[..., AsyncGenerator[Any, Any]]) -> Callable[..., AsyncGenerator[Any, Any]]:
        acquire = self.acquire

        async def guarded(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            permit = acquire()
            agen = func(*args, **kwargs)
            try:
                sent: Any = None
                while True:
                    try:
                        item = await agen.asend(sent)
                    except StopAsyncIteration:
                        break
                    try:
                        sent = yield item
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as thrown:
                        try:
                            item = await agen.athrow(thrown)
                        except StopAsyncIteration:
                            break
                        sent = yield item
            except BaseException as exc:
                permit._settle_error(exc)
                raise
            permit._settle_value(None)

        return guarded

    # ------------------------------------------------------------------- calls

    if TYPE_CHECKING:

        def call(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
            """Calls ``func(*args, **kwargs)`` through the breaker."""
            ...

    async def acall(self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Awaits ``func(*args, **kwargs)`` through the breaker; with a
        ``call_timeout``, the call is cut short there and raises ``TimeoutError``."""
        permit = self.acquire()
        return await _await_guarded(permit, func(*args, **kwargs))

    async def __aenter__(self) -> CircuitBreaker:
        # The permit is held for the statement's frame (the awaiting coroutine), as
        # `with breaker:` holds it: interleaved async generators each get their own.
        frame = sys._getframe(1)
        self._hold(frame)
        left = self._call_timeout
        scope = None
        if left is not None and _timeout_scope is not None:
            scope = _timeout_scope(left)
            try:
                await scope.__aenter__()
            except BaseException as exc:
                self._release_held(frame, exc)
                raise
        _push_held(self._deadline_scopes, scope)
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        frame = sys._getframe(1)
        scope = _pop_held(self._deadline_scopes)
        if scope is not None:
            try:
                # Turns the cancellation of an expired deadline into TimeoutError.
                await scope.__aexit__(exc_type, exc, tb)
            except BaseException as timeout:
                self._release_held(frame, timeout)
                raise
        self._release_held(frame, exc)

    # ------------------------------------------------------------------- state

    @property
    def fleet(self) -> Fleet | None:
        """The :class:`Fleet` this breaker was attached to at construction, if any."""
        return self._fleet

    @property
    def current_state(self) -> str:
        """pybreaker's name for :attr:`state`."""
        return self.state

    @property
    def fail_counter(self) -> int:
        """pybreaker's name: failures in a row, up to now."""
        return int(self._snapshot()["consecutive_failures"])

    @property
    def config(self) -> dict[str, Any]:
        """The engine config in force (the Rust ``Config`` as a JSON-ready dict)."""
        return cast(dict[str, Any], json.loads(self._config_json()))

    def metrics(self) -> Metrics:
        """Every figure of the engine's snapshot (O(window); takes no lock callers need)."""
        d = self._snapshot()
        latency = d.pop("latency")
        return Metrics(latency=None if latency is None else LatencySummary(**latency), **d)

    # --------------------------------------------------------------- listeners

    @property
    def listeners(self) -> tuple[Listener, ...]:
        """The registered transition listeners."""
        return self._listeners

    def add_listener(self, listener: Listener) -> None:
        """Adds a transition listener (``f(Transition)`` or a CircuitBreakerListener)."""
        added = _check_listeners([listener])
        with _REGISTRY_LOCK:  # copy-on-write: dispatch reads the tuple without a lock
            self._listeners = self._listeners + added

    def remove_listener(self, listener: Listener) -> None:
        """Removes a listener; raises ``ValueError`` if it is not registered."""
        with _REGISTRY_LOCK:
            items = list(self._listeners)
            items.remove(listener)
            self._listeners = tuple(items)

    @property
    def call_listeners(self) -> tuple[CallListener, ...]:
        """The registered call listeners."""
        return self._call_listeners

    def add_call_listener(self, listener: CallListener) -> None:
        """Adds ``listener(CallEvent)``, called for every call the breaker admits
        (``before_call``), counts (success, failure, ignored) or rejects, inline on the
        thread of the call: keep it quick. An exception it raises is logged (logger ``tripgate``)."""
        if not callable(listener):
            raise TypeError(f"a call listener must be callable, got {listener!r}")
        with _REGISTRY_LOCK:  # copy-on-write: dispatch reads the tuple without a lock
            if not self._call_listeners:
                self._watch_calls(_make_call_dispatch(weakref.ref(self)))
            self._call_listeners = self._call_listeners + (listener,)

    def remove_call_listener(self, listener: CallListener) -> None:
        """Removes a call listener; raises ``ValueError`` if it is not registered. Once
        none is left, calls pay nothing for them."""
        with _REGISTRY_LOCK:
            items = list(self._call_listeners)
            items.remove(listener)
            self._call_listeners = tuple(items)
            if not items:
                self._unwatch_calls()

    # ------------------------------------------------------------- exclusions

    @property
    def excluded_exceptions(self) -> tuple[ExcludeRule, ...]:
        """The exclusion rules: exception types first, then predicates."""
        return self._exclude_types + self._exclude_predicates

    def add_excluded_exception(self, rule: ExcludeRule) -> None:
        """Adds an exclusion rule: an exception type or a predicate ``f(exc) -> bool``."""
        types, predicates = _split_exclude([rule])
        with _REGISTRY_LOCK:
            self._exclude_types += types
            self._exclude_predicates += predicates

    # ---------------------------------------------------------- reconfiguring

    def reconfigure(
        self,
        *,
        exclude: Iterable[ExcludeRule] = _UNSET,
        classify: ClassifyHook | None = _UNSET,
        **options: Unpack[BreakerOptions],
    ) -> None:
        """Changes options while the breaker runs (same keywords as the constructor).

        State, counters and backoff survive; the window's contents survive when its
        shape is unchanged. The window cannot grow past the buckets it was built with,
        a count window cannot become a time window, and latency tracking cannot be
        switched on live.
        """
        if "tier" in options:
            raise TypeError("tier can only be chosen at construction")
        self._reconfigure(dict(options))
        if exclude is not _UNSET:
            self._exclude_types, self._exclude_predicates = _split_exclude(exclude)
        if classify is not _UNSET:
            if classify is not None and not callable(classify):
                raise TypeError("classify must be a callable f(exc, result)")
            self._classify = classify
            self._set_classify_results(classify is not None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} state={self.state!r}>"


def _split_exclude(
    rules: Iterable[ExcludeRule],
) -> tuple[tuple[type[BaseException], ...], tuple[Callable[[BaseException], bool], ...]]:
    if isinstance(rules, type) or callable(rules):
        rules = [cast(ExcludeRule, rules)]
    types: list[type[BaseException]] = []
    predicates: list[Callable[[BaseException], bool]] = []
    for rule in rules:
        if isinstance(rule, type):
            if not issubclass(rule, BaseException):
                raise TypeError(f"exclude: {rule.__name__} is not an exception type")
            types.append(rule)
        elif callable(rule):
            predicates.append(rule)
        else:
            raise TypeError(f"exclude takes exception types or predicates f(exc) -> bool, got {rule!r}")
    return tuple(types), tuple(predicates)


def _check_listeners(listeners: Iterable[Listener]) -> tuple[Listener, ...]:
    out = tuple(listeners)
    for listener in out:
        if not (isinstance(listener, CircuitBreakerListener) or callable(listener)):
            raise TypeError(f"a listener must be callable or a CircuitBreakerListener, got {listener!r}")
    return out


# The patterns build on the classes above, so they are imported last; they are
# exported under the names `tripgate.patterns.__all__` lists.
from . import patterns as _patterns  # noqa: E402
from .patterns import *  # noqa: E402, F403

__all__ += _patterns.__all__
