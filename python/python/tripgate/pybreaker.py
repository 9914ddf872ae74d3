"""pybreaker's API over tripgate's engine: ``import tripgate.pybreaker as pybreaker``.

Code written for pybreaker keeps working: ``CircuitBreaker(fail_max=5, reset_timeout=60)``,
``@breaker``, ``breaker.call(...)``, ``with breaker.calling():``, listeners with
``before_call``/``success``/``failure``/``state_change``, excluded exceptions,
``current_state``, ``fail_counter``, ``open()``/``half_open()``/``close()``, ``acall``...

This module holds no breaker logic. It translates: ``fail_max`` is the engine's
consecutive-failures rule, ``reset_timeout`` its open duration, ``success_threshold`` the
successful half-open probes it needs; an excluded exception is recorded as a success
(pybreaker counts it as one: it resets the failure streak and may close a half-open
breaker); listeners' ``success`` and ``failure`` are called from the engine's per-call
events and ``state_change`` from its transitions. Admission, counting, tripping and
recovery are the engine's.

Where it differs from pybreaker:

- Calls run concurrently (pybreaker holds a lock around every call). In half-open the
  engine admits one probe at a time; a call arriving while the probe runs is rejected
  with :class:`CircuitBreakerError` instead of waiting for the lock.
- ``KeyboardInterrupt``, ``SystemExit``, ``GeneratorExit`` and ``asyncio.CancelledError``
  say nothing about the dependency: the call is released, counted neither way.
- An exception raised by a listener is logged (logger ``tripgate``) and never reaches
  the caller; the call goes on. As in pybreaker, the ``success``, ``failure`` and
  ``state_change`` hooks run one at a time on a breaker (``before_call`` runs with its
  call, concurrently).
- ``call_async`` (and a decorated ``async def``) is an asyncio coroutine, not a Tornado
  one; ``acall`` is pybreaker's asyncio call, without its lock.
- A rejection's message starts with pybreaker's ("Timeout not elapsed yet, circuit
  breaker still open") and goes on with the engine's.
- ``open()`` starts a new opening of ``reset_timeout``; ``half_open()`` and ``close()``
  publish no transition in the state they would reach (``close()`` still resets the
  failure count).
- Storage: :class:`CircuitMemoryStorage` chooses the initial state (``open`` starts an
  opening of ``reset_timeout``). :class:`CircuitRedisStorage` is tripgate's fleet mode:
  each process's breaker stays authoritative and replicas share Open by quorum, not one
  state and counter in Redis; while Redis is unreachable each process runs on its own
  breaker (see the class). Breakers built on one ``CircuitRedisStorage`` under one
  name do not share an engine: the newest is the one the fleet shares.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
import types
import weakref
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar, Union, cast, overload

import tripgate

from . import _core

__all__ = [
    "CircuitBreaker",
    "CircuitBreakerError",
    "CircuitBreakerListener",
    "CircuitBreakerState",
    "CircuitBreakerStorage",
    "CircuitClosedState",
    "CircuitHalfOpenState",
    "CircuitMemoryStorage",
    "CircuitOpenState",
    "CircuitRedisStorage",
    "STATE_CLOSED",
    "STATE_HALF_OPEN",
    "STATE_OPEN",
]

logger = logging.getLogger("tripgate")

# Guards the rare copy-on-write updates of listener and exclusion lists; never held
# across a user call or a listener.
_REGISTRY_LOCK = threading.Lock()

T = TypeVar("T")
P = ParamSpec("P")
F = TypeVar("F", bound=Callable[..., Any])

STATE_OPEN = "open"
"""pybreaker's name of the open state."""
STATE_CLOSED = "closed"
"""pybreaker's name of the closed state."""
STATE_HALF_OPEN = "half-open"
"""pybreaker's name of the half-open state (the engine spells it ``half_open``)."""

HAS_TORNADO_SUPPORT = True
"""pybreaker's flag for ``call_async``: true here, where ``call_async`` is an asyncio
coroutine and needs no Tornado. Set to false, ``@breaker(__pybreaker_call_async=True)``
raises ``ImportError``, as pybreaker's does without Tornado."""
HAS_REDIS_SUPPORT = True
"""pybreaker's flag for :class:`CircuitRedisStorage`: always true here, where the
storage reads its client duck-typed and needs no redis-py import."""

# pybreaker's state names by the engine's (tripgate.State); the operator states an
# adapter never enters are shown as the pybreaker state they behave like.
_FROM_ENGINE: dict[str, str] = {
    tripgate.State.CLOSED: STATE_CLOSED,
    tripgate.State.OPEN: STATE_OPEN,
    tripgate.State.HALF_OPEN: STATE_HALF_OPEN,
    tripgate.State.FORCED_OPEN: STATE_OPEN,
    tripgate.State.FORCED_CLOSED: STATE_CLOSED,
    tripgate.State.DISABLED: STATE_CLOSED,
    tripgate.State.METRICS_ONLY: STATE_CLOSED,
}
_TO_ENGINE: dict[str, str] = {
    STATE_CLOSED: tripgate.State.CLOSED.value,
    STATE_OPEN: tripgate.State.OPEN.value,
    STATE_HALF_OPEN: tripgate.State.HALF_OPEN.value,
}

CircuitBreakerError = tripgate.CircuitBreakerError
"""Raised instead of a call the breaker does not admit, and (with
``throw_new_error_on_trip``) by the call that opens it. The same class as
:class:`tripgate.CircuitBreakerError`: it carries ``name``, ``state``, ``retry_after``
and ``reason``."""

ExcludeRule = Union[type[BaseException], Callable[[BaseException], bool]]
"""An excluded exception: a type (its subclasses too) or a predicate ``f(exc) -> bool``."""


# --------------------------------------------------------------------------- states


class CircuitBreakerState:
    """A state of a breaker as pybreaker shows it: :attr:`name` is ``"closed"``,
    ``"open"`` or ``"half-open"``. :attr:`CircuitBreaker.state` and listeners'
    ``state_change`` hand these out; they hold no behaviour (the engine's states do).

    As in pybreaker, the breaker builds one each time it enters a state, through the
    class of that state and its signature, ``cls(cb, prev_state=None, notify=False)``,
    and ``notify`` runs the listeners' ``state_change(cb, prev_state, new_state)``.
    Building one yourself moves nothing: the engine holds the state."""

    _NAME = ""

    def __init__(self, cb: CircuitBreaker | None = None, prev_state: CircuitBreakerState | None = None, notify: bool = False) -> None:
        if notify and cb is not None:
            cb._notify("state_change", prev_state, self)

    @property
    def name(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        return self._NAME

    def __str__(self) -> str:
        return self._NAME

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class CircuitClosedState(CircuitBreakerState):
    """Closed: calls flow and their outcomes are counted."""

    _NAME = STATE_CLOSED


class CircuitOpenState(CircuitBreakerState):
    """Open: calls fail at once with :class:`CircuitBreakerError` until ``reset_timeout``
    has passed; then the next call is a trial."""

    _NAME = STATE_OPEN


class CircuitHalfOpenState(CircuitBreakerState):
    """Half-open: trial calls decide; ``success_threshold`` successes close the breaker,
    a failure opens it again."""

    _NAME = STATE_HALF_OPEN


# -------------------------------------------------------------------------- storage


class CircuitBreakerStorage:
    """Base of pybreaker's state storages. tripgate keeps a breaker's state in its
    engine; a storage only chooses the state a breaker starts in."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        """The storage's kind (``"memory"`` or ``"redis"``)."""
        return self._name

    @property
    def state(self) -> str:
        """The state a breaker built on this storage starts in."""
        raise NotImplementedError


class CircuitMemoryStorage(CircuitBreakerStorage):
    """In-process state, as pybreaker's default: ``state`` (``STATE_CLOSED``,
    ``STATE_OPEN`` or ``STATE_HALF_OPEN``) is the state the breaker starts in."""

    def __init__(self, state: str) -> None:
        super().__init__("memory")
        if state not in _TO_ENGINE:
            raise ValueError(f"unknown state {state!r}: allowed {', '.join(map(repr, _TO_ENGINE))}")
        self._state = state

    @property
    def state(self) -> str:
        """The state a breaker built on this storage starts in."""
        return self._state


class CircuitRedisStorage(CircuitBreakerStorage):
    """pybreaker's Redis storage, backed by tripgate's fleet mode (:class:`tripgate.Fleet`).

    ``CircuitRedisStorage(state, redis_object, namespace=None,
    fallback_circuit_state="closed", cluster_mode=False)``, pybreaker's signature:

    - ``redis_object``: a redis-py client (``redis.Redis``), read duck-typed: the store
      is the server its ``connection_pool.connection_kwargs`` name (``host``, ``port``,
      ``db``, ``username``, ``password``). tripgate does not import redis-py and never
      sends a command through the client: the fleet opens its own two connections
      (with timeouts) from its own threads. A TLS client (``redis.Redis(ssl=True)``)
      makes a ``rediss://`` store, its ``ssl_ca_certs``, ``ssl_certfile`` and
      ``ssl_keyfile`` the fleet's ``tls_ca_file``, ``tls_cert_file`` and
      ``tls_key_file``; one with ``ssl_cert_reqs="none"`` is refused, as is a Unix
      socket (``NotImplementedError``).
    - ``namespace``: the fleet's service name (default ``"pybreaker"``); the breaker's
      ``name`` is the fleet's name for the breaker (default ``"default"``: one shared
      breaker per namespace, as pybreaker's keys are). Both are 1 to 64 of
      ``A-Z a-z 0-9 _ . -``. One breaker per name is shared: a breaker built later on
      this storage under the same name takes over (the earlier one runs on unshared),
      and a name is freed when its breaker is garbage-collected.
    - ``state``: the state the breaker starts in (``"open"`` starts an opening of
      ``reset_timeout``, which the fleet sees as this replica's open vote). pybreaker
      writes it to Redis only when no state is there; here there is no shared state
      to initialise.
    - ``fallback_circuit_state``: pybreaker reports this state while Redis is
      unreachable. Here a process never depends on Redis for a call: while the store
      is unreachable each process runs on its own breaker, which keeps counting,
      tripping and recovering by its own rules (holds the fleet placed end on time).
      That is pybreaker's default fallback (``"closed"``: calls flow) with the local
      breaker still protecting the dependency. ``"open"`` and ``"half-open"`` (reject
      or trial every call while Redis is down) are refused with
      ``NotImplementedError``: tripgate never switches a breaker on the store's
      health. Any other value is a ``ValueError``.
    - ``cluster_mode=True``: ``NotImplementedError`` (the fleet talks to one server).

    Keyword-only, tripgate's: ``environment`` (default ``"default"``) and ``replica``
    (default ``{hostname}-{pid}``) of the fleet, and any other :class:`tripgate.Fleet`
    option (``heartbeat``, ``quorum``, ``veto``, ``probe_lease``, timeouts, ...).

    How it differs from pybreaker's storage: pybreaker keeps one state and one failure
    counter in Redis, read and written by every call of every process. Here each
    process's breaker is authoritative and counts its own calls (no Redis on the call
    path); replicas share *Open*: when a quorum of replicas (default 2) report a
    breaker open, the others hold theirs open too, and one replica at a time probes the
    recovery. Closing is never shared: each breaker closes by its own calls. See
    ``fleet/README.md``.

    One storage is one :class:`tripgate.Fleet` (:attr:`fleet`: two threads and two
    connections), started when the storage is built and closed with
    :meth:`close`, at exit, or when the storage is garbage-collected.
    """

    def __init__(
        self,
        state: str,
        redis_object: Any,
        namespace: str | None = None,
        fallback_circuit_state: str = STATE_CLOSED,
        cluster_mode: bool = False,
        *,
        environment: str = "default",
        replica: str | None = None,
        **fleet_options: Any,
    ) -> None:
        super().__init__("redis")
        if state not in _TO_ENGINE:
            raise ValueError(f"unknown state {state!r}: allowed {', '.join(map(repr, _TO_ENGINE))}")
        if fallback_circuit_state not in _TO_ENGINE:
            raise ValueError(
                f"unknown fallback_circuit_state {fallback_circuit_state!r}: allowed "
                f"{', '.join(map(repr, _TO_ENGINE))}"
            )
        if fallback_circuit_state != STATE_CLOSED:
            raise NotImplementedError(
                f"fallback_circuit_state={fallback_circuit_state!r} is not supported: while Redis "
                "is unreachable, each process runs on its own breaker (which keeps counting and "
                "tripping by its own rules); tripgate never switches a breaker on the store's "
                "health. Use the default, 'closed'."
            )
        if cluster_mode:
            raise NotImplementedError(
                "cluster_mode=True is not supported: tripgate's fleet talks to one Redis (or "
                "Valkey) server"
            )
        store_fields = {"service", "store", "url", "username", "password", "password_file", "password_env"}
        taken = sorted(store_fields & set(fleet_options))
        if taken:
            raise TypeError(
                f"CircuitRedisStorage: {', '.join(taken)} cannot be given: the store comes from "
                "redis_object and the service from namespace"
            )
        options = dict(fleet_options)
        options.update(_store_of(redis_object))
        options["service"] = "pybreaker" if namespace is None else namespace
        options["environment"] = environment
        if replica is not None:
            options["replica"] = replica
        self._state = state
        self._fallback_circuit_state = fallback_circuit_state
        self._namespace = namespace
        self._fleet = tripgate.Fleet(**options)
        # The breaker sharing each name, and its engine (see `_attach`). Re-entrant: a
        # garbage collection inside `_attach` may run `_release` on this thread.
        self._seats: dict[str, tuple[weakref.ReferenceType[CircuitBreaker], _Engine]] = {}
        self._seats_lock = threading.RLock()

    @property
    def state(self) -> str:
        """The state a breaker built on this storage starts in."""
        return self._state

    @property
    def fallback_circuit_state(self) -> str:
        """pybreaker's fallback state (only ``"closed"`` is accepted: see the class)."""
        return self._fallback_circuit_state

    @property
    def namespace(self) -> str | None:
        """The namespace given (the fleet's service name; ``None``: ``"pybreaker"``)."""
        return self._namespace

    @property
    def fleet(self) -> tripgate.Fleet:
        """The fleet behind this storage (``sync()``, ``metrics()``, ``prometheus()``)."""
        return self._fleet

    def close(self) -> None:
        """Closes the fleet: this replica's opinions are withdrawn, holds released."""
        self._fleet.close()

    def _attach(self, name: str | None, breaker: CircuitBreaker) -> None:
        """Shares ``breaker``'s engine with the fleet under ``name``. One breaker per
        name shares it: a breaker built later on this storage under the same name takes
        its place (as pybreaker's breakers on one storage all use the same keys), and
        the one it replaces runs on unshared. The place is freed when its breaker is
        garbage-collected."""
        key = "default" if name is None else name
        engine = breaker._engine
        with self._seats_lock:
            seat = self._seats.pop(key, None)
            if seat is not None:
                self._fleet.detach(key)
                if seat[0]() is not None:
                    logger.info(
                        "tripgate.pybreaker: a new breaker shares %r in fleet %r; the one built before it "
                        "on this storage runs on unshared",
                        key,
                        self._fleet.service,
                    )
            self._fleet.attach(key, engine)
            self._seats[key] = (weakref.ref(breaker), engine)
        # Not at exit: the fleet closes then anyway.
        weakref.finalize(breaker, self._release, key, engine).atexit = False

    def _release(self, key: str, engine: _Engine) -> None:
        """Stops sharing ``key`` if ``engine`` (of a breaker being collected) still does."""
        with self._seats_lock:
            seat = self._seats.get(key)
            if seat is None or seat[1] is not engine:
                return
            del self._seats[key]
            if not self._fleet.closed:
                self._fleet.detach(key)


def _store_of(redis_object: Any) -> dict[str, Any]:
    """The fleet's store options from a redis-py client, duck-typed: its connection
    pool's ``connection_kwargs``."""
    try:
        pool = redis_object.connection_pool
        kwargs = dict(pool.connection_kwargs)
    except (AttributeError, TypeError) as e:
        raise TypeError(
            "redis_object must be a redis-py client (with connection_pool.connection_kwargs), "
            f"got {type(redis_object).__name__}"
        ) from e
    connection_class = getattr(pool, "connection_class", None)
    if kwargs.get("path") is not None or "Unix" in getattr(connection_class, "__name__", ""):
        raise NotImplementedError("a Redis client on a Unix socket is not supported: the fleet connects over TCP")
    tls = "SSL" in getattr(connection_class, "__name__", "") or any(k.startswith("ssl") for k in kwargs)
    if tls and kwargs.get("ssl_cert_reqs") in ("none", 0):
        raise NotImplementedError(
            "a TLS Redis client that does not check the server's certificate is not supported: "
            "the fleet always checks it (give ssl_ca_certs for a private CA)"
        )
    host = str(kwargs.get("host") or "localhost")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6
    port = int(kwargs.get("port") or 6379)
    db = int(kwargs.get("db") or 0)
    store: dict[str, Any] = {"url": f"{'rediss' if tls else 'redis'}://{host}:{port}/{db}"}
    if tls:
        for ours, theirs in (("tls_ca_file", "ssl_ca_certs"), ("tls_cert_file", "ssl_certfile"), ("tls_key_file", "ssl_keyfile")):
            if kwargs.get(theirs) is not None:
                store[ours] = str(kwargs[theirs])
    username = kwargs.get("username")
    password = kwargs.get("password")
    if username is not None:
        store["username"] = str(username)
    if password is not None:
        store["password"] = password if isinstance(password, str) else bytes(password).decode()
    return store


# ------------------------------------------------------------------------ listeners


class CircuitBreakerListener:
    """pybreaker's listener: subclass it and override the hooks you need. Every hook
    runs on the thread of the call or transition; ``success``, ``failure`` and
    ``state_change`` run one at a time on a breaker, as in pybreaker. An exception
    raised in a hook is logged (logger ``tripgate``) and never reaches the caller."""

    def before_call(self, cb: CircuitBreaker, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Called when ``cb`` has admitted a call, before it calls ``func``."""

    def state_change(self, cb: CircuitBreaker, old_state: CircuitBreakerState | None, new_state: CircuitBreakerState) -> None:
        """Called after every transition of ``cb``'s engine."""

    def failure(self, cb: CircuitBreaker, exc: BaseException) -> None:
        """Called when ``cb`` has counted a call as a failure; ``exc`` is what it raised."""

    def success(self, cb: CircuitBreaker) -> None:
        """Called when ``cb`` has counted a call as a success (an excluded exception
        counts as one)."""


# -------------------------------------------------------------------------- engine


class _Engine(tripgate.CircuitBreaker):
    """The adapter's engine: a tripgate breaker that classifies exceptions as pybreaker
    does (an excluded exception is a success) and tells its adapter which exception it
    is recording, for the listeners' ``failure``."""

    _adapter: weakref.ReferenceType[CircuitBreaker]

    def _classify_error(self, exc: BaseException) -> int:
        adapter = self._adapter()
        if adapter is None or not isinstance(exc, Exception):
            return super()._classify_error(exc)  # released: counted neither way
        counted = adapter.is_system_error(exc)
        local = adapter._local
        local.counted = counted
        if adapter._listeners:
            # For the failure event this record sends, on this thread, next.
            local.exc = exc
        if not counted:
            return _core.OUTCOME_SUCCESS
        return super()._classify_error(exc)


def _on_transition(ref: weakref.ReferenceType[CircuitBreaker]) -> Callable[[tripgate.Transition], None]:
    def dispatch(t: tripgate.Transition) -> None:
        cb = ref()
        if cb is None:
            return
        cb._enter(_FROM_ENGINE[t.to_state])

    return dispatch


def _on_call(ref: weakref.ReferenceType[CircuitBreaker]) -> Callable[[tripgate.CallEvent], None]:
    def dispatch(e: tripgate.CallEvent) -> None:
        cb = ref()
        if cb is None:
            return
        if e.event == "success":
            cb._local.exc = None
            cb._notify("success")
        elif e.event == "failure":
            exc: BaseException | None = getattr(cb._local, "exc", None)
            cb._local.exc = None
            if exc is None:
                # A failure answered on a permit, without an exception.
                exc = Exception(f"call failed ({e.failure_kind})")
            cb._notify("failure", exc)

    return dispatch


# ------------------------------------------------------------------------- breaker


class CircuitBreaker:
    """pybreaker's ``CircuitBreaker``, run by tripgate's engine.

    - ``fail_max``: open after this many failures in a row.
    - ``reset_timeout``: seconds the breaker stays open before a trial call.
    - ``success_threshold``: successful trial calls needed to close.
    - ``exclude``: exception types or predicates ``f(exc) -> bool`` whose exceptions are
      not system errors: they count as successes.
    - ``listeners``: :class:`CircuitBreakerListener` instances.
    - ``state_storage``: a :class:`CircuitMemoryStorage`, for the initial state, or a
      :class:`CircuitRedisStorage`: the initial state, and the breaker is shared with
      the storage's fleet under ``name`` (``"default"`` when ``None``).
    - ``name``: shown in errors and logs.
    - ``throw_new_error_on_trip``: the call that opens the breaker raises
      :class:`CircuitBreakerError` (from its own exception) instead of its own exception.
    - ``clock`` (keyword-only, tripgate's): a :class:`tripgate.ManualClock`, for tests.

    A value the engine refuses raises :class:`tripgate.ConfigError` naming the option
    and its allowed range. The engine is :attr:`breaker` (a
    :class:`tripgate.CircuitBreaker`), for its metrics.
    """

    def __init__(
        self,
        fail_max: int = 5,
        reset_timeout: float = 60,
        success_threshold: int = 1,
        exclude: Iterable[ExcludeRule] | None = None,
        listeners: Iterable[CircuitBreakerListener] | None = None,
        state_storage: CircuitBreakerStorage | None = None,
        name: str | None = None,
        throw_new_error_on_trip: bool = True,
        *,
        clock: tripgate.ManualClock | None = None,
    ) -> None:
        initial = STATE_CLOSED
        if state_storage is not None:
            if not isinstance(state_storage, (CircuitMemoryStorage, CircuitRedisStorage)):
                raise NotImplementedError(
                    f"state_storage: {type(state_storage).__name__} is not supported; tripgate "
                    "keeps the state in its engine (CircuitMemoryStorage chooses the initial state, "
                    "CircuitRedisStorage shares it through tripgate's fleet)"
                )
            initial = state_storage.state
        self._state_storage: CircuitBreakerStorage = (
            state_storage if state_storage is not None else CircuitMemoryStorage(STATE_CLOSED)
        )
        self._excluded: list[ExcludeRule] = []
        self.add_excluded_exceptions(*(exclude or ()))
        self._listeners: tuple[CircuitBreakerListener, ...] = ()
        # Re-entrant: a listener may call through this breaker (see `_notify`).
        self._notify_lock = threading.RLock()
        self._local = threading.local()
        self._throw_new_error_on_trip = bool(throw_new_error_on_trip)
        # The object of the state last entered (see `_enter`).
        self._state = self._create_new_state(initial)
        engine = _Engine(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            success_threshold=success_threshold,
            initial_state=_TO_ENGINE[initial],
            name=name,
            clock=clock,
        )
        self._reset_timeout = reset_timeout
        ref = weakref.ref(self)
        engine._adapter = ref
        engine.add_listener(_on_transition(ref))
        self._engine = engine
        self._call_dispatch = _on_call(ref)
        self.add_listeners(*(listeners or ()))
        if isinstance(state_storage, CircuitRedisStorage):
            state_storage._attach(name, self)

    # ------------------------------------------------------------------ calls

    def _admit(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _core.Permit:
        """The engine's permit (or its CircuitBreakerError), then ``before_call``. A
        trial call's permit comes after its move to half-open has been announced, as in
        pybreaker."""
        try:
            permit = self._engine.acquire()
        except CircuitBreakerError as rejected:
            if rejected.state not in (tripgate.State.OPEN, tripgate.State.FORCED_OPEN):
                raise
            # pybreaker's words first, for code that matches them; then the engine's.
            raise CircuitBreakerError(
                f"Timeout not elapsed yet, circuit breaker still open ({rejected})",
                rejected.name,
                rejected.state,
                rejected.retry_after,
                rejected.reason,
            ) from None
        # Part of the call, as concurrent as the calls (see `_notify`).
        self._call_hooks(self._listeners, "before_call", func, *args, **kwargs)
        return permit

    def _notify(self, hook: str, /, *args: Any, **kwargs: Any) -> None:
        """Calls ``hook`` (``success``, ``failure`` or ``state_change``) of every
        listener with ``(self, *args, **kwargs)``, one such hook at a time on this
        breaker whatever the threads: pybreaker runs them under its lock, and listeners
        written for it may count without one. ``before_call`` is part of the call and
        runs as concurrently as the calls. A listener's exception is logged."""
        listeners = self._listeners
        if not listeners:
            return
        with self._notify_lock:
            self._call_hooks(listeners, hook, *args, **kwargs)

    def _call_hooks(self, listeners: tuple[CircuitBreakerListener, ...], hook: str, /, *args: Any, **kwargs: Any) -> None:
        """Calls ``hook`` of each of ``listeners`` with ``(self, *args, **kwargs)``;
        a listener's exception is logged."""
        for listener in listeners:
            try:
                getattr(listener, hook)(self, *args, **kwargs)
            except Exception:
                logger.exception("tripgate.pybreaker: listener %r of breaker %r raised in %s", listener, self.name, hook)

    def _failed(self, permit: _core.Permit, exc: BaseException) -> None:
        """Answers ``permit`` for a call that raised ``exc``; raises
        :class:`CircuitBreakerError` from ``exc`` when that failure opened the breaker
        and ``throw_new_error_on_trip`` is set. Otherwise returns: the caller re-raises."""
        local = self._local
        local.counted = False
        permit._settle_error(exc)
        local.exc = None
        counted = local.counted
        local.counted = False
        if not (counted and self._throw_new_error_on_trip):
            return
        state = self._engine.state
        # With a CircuitRedisStorage, the fleet may already hold the tripped breaker
        # open (forced_open: its trip is a vote of a quorum) by the time this runs.
        shared = isinstance(self._state_storage, CircuitRedisStorage)
        if state != tripgate.State.OPEN and not (shared and state == tripgate.State.FORCED_OPEN):
            return
        if permit.is_probe:
            message = "Trial call failed, circuit breaker opened"
        else:
            message = "Failures threshold reached, circuit breaker opened"
        if self.name is not None:
            message = f"circuit breaker {self.name!r}: {message}"
        raise CircuitBreakerError(message, self.name, tripgate.State.OPEN.value, self._engine.retry_after) from exc

    def _guard_generator(self, permit: _core.Permit, gen: Generator[Any, Any, T]) -> Generator[Any, Any, T]:
        """Holds ``permit`` while ``gen`` runs: its end is the call's outcome."""
        try:
            result = yield from gen
        except BaseException as exc:
            self._failed(permit, exc)
            raise
        permit._settle_value(None)
        return result

    def call(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Calls ``func(*args, **kwargs)`` through the breaker. A generator it returns is
        guarded until it is exhausted. Raises :class:`CircuitBreakerError` without
        calling ``func`` while the breaker is open."""
        permit = self._admit(func, args, kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            self._failed(permit, exc)
            raise
        if isinstance(result, types.GeneratorType):
            return cast(T, self._guard_generator(permit, result))
        permit._settle_value(result)
        return result

    async def call_async(self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Awaits ``func(*args, **kwargs)`` through the breaker (asyncio; pybreaker's is
        Tornado's). A cancelled call is released, counted neither way."""
        permit = self._admit(func, args, kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            self._failed(permit, exc)
            raise
        permit._settle_value(result)
        return result

    async def acall(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> Any:
        """pybreaker's native asyncio call: calls ``func(*args, **kwargs)`` through the
        breaker and awaits what it returns if that is awaitable. A generator or an async
        generator as the result raises ``TypeError`` (use :meth:`call` for a generator);
        that call counts neither way. Otherwise as :meth:`call_async`."""
        permit = self._admit(func, args, kwargs)
        try:
            result = func(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except BaseException as exc:
            self._failed(permit, exc)
            raise
        if isinstance(result, types.GeneratorType):
            permit.release()
            raise TypeError("acall does not support synchronous generators: guard one with call()")
        if inspect.isasyncgen(result):
            permit.release()
            raise TypeError("acall does not support async generators: guard an async function that returns a value")
        permit._settle_value(result)
        return result

    @contextlib.contextmanager
    def calling(self) -> Iterator[None]:
        """``with breaker.calling():`` guards the block as one call: it raises
        :class:`CircuitBreakerError` without running the block while the breaker is
        open, and the block's exception (or its end) is the call's outcome."""
        permit = self._admit(self.calling, (), {})
        try:
            yield
        except BaseException as exc:
            self._failed(permit, exc)
            raise
        permit._settle_value(None)

    @overload
    def __call__(self, func: F, /) -> F: ...

    @overload
    def __call__(self, **options: bool) -> Callable[[F], F]: ...

    def __call__(self, *call_args: Any, **call_kwargs: bool) -> Any:
        """Decorates a function (``@breaker``): its calls go through :meth:`call`, or
        :meth:`call_async` for an ``async def`` function. ``@breaker(__pybreaker_call_async=True)``
        is accepted and means :meth:`call_async`."""
        call_async = call_kwargs.pop("__pybreaker_call_async", False)
        if call_async and not HAS_TORNADO_SUPPORT:
            raise ImportError("No module named tornado")
        if call_kwargs:
            raise TypeError(f"unexpected keyword arguments {', '.join(call_kwargs)}")

        def decorate(func: F) -> F:
            if not callable(func):
                raise TypeError(f"CircuitBreaker decorates callables, got {type(func).__name__}")
            if call_async or inspect.iscoroutinefunction(func):

                async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                    return await self.call_async(func, *args, **kwargs)

                return cast(F, functools.wraps(func)(guarded_async))

            def guarded(*args: Any, **kwargs: Any) -> Any:
                return self.call(func, *args, **kwargs)

            return cast(F, functools.wraps(func)(guarded))

        if call_args:
            if len(call_args) != 1:
                raise TypeError("CircuitBreaker decorates one function")
            return decorate(call_args[0])
        return decorate

    # ------------------------------------------------------------------ state

    @property
    def breaker(self) -> tripgate.CircuitBreaker:
        """The tripgate breaker that runs this one (metrics, latency, call listeners)."""
        return self._engine

    @property
    def state_storage(self) -> CircuitBreakerStorage:
        """The storage given at construction (a :class:`CircuitMemoryStorage` of
        ``"closed"`` when none was, as in pybreaker)."""
        return self._state_storage

    @property
    def current_state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        return _FROM_ENGINE[self._engine.state]

    @property
    def state(self) -> CircuitBreakerState:
        """The current state as an object with a ``name`` (see :attr:`current_state`):
        the one built when the breaker entered it, as in pybreaker."""
        state = self._state
        current = _FROM_ENGINE[self._engine.state]
        if state.name == current:
            return state
        # The engine has moved and the transition's event is on its way (delivered on
        # another thread, a moment later): a view of where it is now, without notice.
        return self._create_new_state(current, prev_state=state)

    @state.setter
    def state(self, state: str) -> None:
        """pybreaker's ``breaker.state = "open"``: :meth:`open`, :meth:`half_open` or
        :meth:`close`, by the state's name."""
        moves = {STATE_OPEN: self.open, STATE_HALF_OPEN: self.half_open, STATE_CLOSED: self.close}
        move = moves.get(str(state))
        if move is None:
            raise ValueError(f"unknown state {state!r}: allowed {', '.join(map(repr, moves))}")
        move()

    def _create_new_state(
        self, new_state: str, prev_state: CircuitBreakerState | None = None, notify: bool = False
    ) -> CircuitBreakerState:
        """pybreaker's: a new object of the state named ``new_state``, built by its class
        (looked up when called) with ``(self, prev_state=prev_state, notify=notify)``;
        ``ValueError`` for an unknown name. It moves nothing (see :class:`CircuitBreakerState`)."""
        classes: dict[str, Callable[..., CircuitBreakerState]] = {
            STATE_CLOSED: CircuitClosedState,
            STATE_OPEN: CircuitOpenState,
            STATE_HALF_OPEN: CircuitHalfOpenState,
        }
        cls = classes.get(new_state)
        if cls is None:
            raise ValueError(f"unknown state {new_state!r}: allowed {', '.join(map(repr, classes))}")
        return cls(self, prev_state=prev_state, notify=notify)

    def _enter(self, new_state: str) -> None:
        """Follows a transition of the engine to ``new_state`` (pybreaker's name): the
        state's new object, whose construction notifies the listeners' ``state_change``
        with the object of the state left. One transition at a time (the notify lock),
        in the engine's order."""
        with self._notify_lock:
            self._state = self._create_new_state(new_state, prev_state=self._state, notify=True)

    @property
    def fail_counter(self) -> int:
        """Failures in a row, up to now (a tripped breaker still reads the failures that
        tripped it)."""
        return self._engine.fail_counter

    @property
    def success_counter(self) -> int:
        """Successful trial calls so far in the current half-open state (0 in any other)."""
        return int(self._engine._snapshot()["half_open_successes"])

    @property
    def fail_max(self) -> int:
        """Failures in a row that open the breaker; settable while it runs."""
        return int(self._engine.config["consecutive_failures"])

    @fail_max.setter
    def fail_max(self, number: int) -> None:
        self._engine.reconfigure(fail_max=number)

    @property
    def reset_timeout(self) -> float:
        """Seconds the breaker stays open before a trial call; settable while it runs
        (from the next opening on)."""
        return self._reset_timeout

    @reset_timeout.setter
    def reset_timeout(self, timeout: float) -> None:
        self._engine.reconfigure(reset_timeout=timeout)
        self._reset_timeout = timeout

    @property
    def success_threshold(self) -> int:
        """Successful trial calls that close the breaker; settable while it runs."""
        return int(self._engine.config["half_open"]["success_threshold"])

    @success_threshold.setter
    def success_threshold(self, number: int) -> None:
        self._engine.reconfigure(success_threshold=number)

    @property
    def name(self) -> str | None:
        """The breaker's name; settable while it runs (rejections name it from then on)."""
        return self._engine.name

    @name.setter
    def name(self, name: str | None) -> None:
        self._engine.name = name

    def open(self) -> None:
        """Opens the breaker: calls fail at once for ``reset_timeout`` (an open breaker
        starts a new opening), then the next call is a trial."""
        self._engine.open_for(self._reset_timeout)

    def half_open(self) -> None:
        """Half-opens the breaker: the next call is a trial."""
        self._engine.half_open()

    def close(self) -> None:
        """Closes the breaker with no failure counted (the engine's ``reset``)."""
        self._engine.reset()

    # ------------------------------------------------------------- exclusions

    @property
    def excluded_exceptions(self) -> tuple[ExcludeRule, ...]:
        """The excluded exceptions (types and predicates), in the order added."""
        return tuple(self._excluded)

    def add_excluded_exception(self, exception: ExcludeRule) -> None:
        """Excludes an exception type (and its subclasses) or a predicate's matches."""
        if not (isinstance(exception, type) and issubclass(exception, BaseException)) and not callable(exception):
            raise TypeError(f"exclude takes exception types or predicates f(exc) -> bool, got {exception!r}")
        with _REGISTRY_LOCK:
            self._excluded = self._excluded + [exception]

    def add_excluded_exceptions(self, *exceptions: ExcludeRule) -> None:
        """Excludes each of ``exceptions``."""
        for exception in exceptions:
            self.add_excluded_exception(exception)

    def remove_excluded_exception(self, exception: ExcludeRule) -> None:
        """Removes an excluded exception; raises ``ValueError`` if it is not excluded."""
        with _REGISTRY_LOCK:
            items = list(self._excluded)
            items.remove(exception)
            self._excluded = items

    def is_system_error(self, exception: BaseException) -> bool:
        """Whether ``exception`` counts as a failure: ``False`` for an excluded type (or
        a subclass) or when an excluded predicate returns true."""
        for rule in self._excluded:
            if isinstance(rule, type):
                if isinstance(exception, rule):
                    return False
            elif rule(exception):
                return False
        return True

    # -------------------------------------------------------------- listeners

    @property
    def listeners(self) -> tuple[CircuitBreakerListener, ...]:
        """The registered listeners."""
        return self._listeners

    def add_listener(self, listener: CircuitBreakerListener) -> None:
        """Registers a :class:`CircuitBreakerListener` (or any object with its hooks)."""
        with _REGISTRY_LOCK:
            if not self._listeners:
                self._engine.add_call_listener(self._call_dispatch)
            self._listeners = self._listeners + (listener,)

    def add_listeners(self, *listeners: CircuitBreakerListener) -> None:
        """Registers each of ``listeners``."""
        for listener in listeners:
            self.add_listener(listener)

    def remove_listener(self, listener: CircuitBreakerListener) -> None:
        """Unregisters a listener; raises ``ValueError`` if it is not registered."""
        with _REGISTRY_LOCK:
            items = list(self._listeners)
            items.remove(listener)
            self._listeners = tuple(items)
            if not items:
                self._engine.remove_call_listener(self._call_dispatch)

    def __repr__(self) -> str:
        return f"<tripgate.pybreaker.CircuitBreaker name={self.name!r} state={self.current_state!r}>"
