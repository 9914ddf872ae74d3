"""Classifiers for HTTP clients: httpx, aiohttp, requests and urllib3.

Pass one as a breaker's ``classify`` hook::

    import tripgate, tripgate.http

    breaker = tripgate.CircuitBreaker(classify=tripgate.http.classify)
    response = breaker.call(session.get, url, timeout=2)   # requests, httpx or urllib3

It reads both what a call raises and the response it returns:

- a timeout (``httpx.TimeoutException``, ``requests.Timeout``, aiohttp's
  ``ServerTimeoutError``, urllib3's ``TimeoutError``) is a failure of kind ``timeout``;
- a connection error (refused, reset, DNS, protocol: ``httpx.TransportError``,
  ``requests.ConnectionError``, ``aiohttp.ClientConnectionError``, urllib3's
  ``NewConnectionError`` / ``ProtocolError``) is a failure of kind ``connection``;
- status 429 and 503 are ``rejected`` (the dependency is shedding load), 504 a
  ``timeout`` (a gateway gave up waiting), any other 5xx a ``server_error``: the engine's
  own status table, the one the Rust tower layer and ``tripgate replay`` use;
- any other 4xx is ``ignored`` (the request's fault, not the dependency's): choose
  otherwise with :func:`classifier` (``client_errors="failure"`` or ``"success"``);
- anything else is left to the default.

A status is read from a returned response (``status_code`` or ``status``) or from a
raised status error (``httpx.HTTPStatusError``, ``requests.HTTPError``,
``aiohttp.ClientResponseError``). None of the libraries is imported here: an exception
can only come from a library that is already loaded, so each is looked up in
``sys.modules`` when a call fails.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Literal

from . import _core

__all__ = ["classifier", "classify"]

ClientErrors = Literal["ignored", "failure", "success"]


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """The named exception classes of `module`, if the library is loaded."""
    mod = sys.modules.get(module)
    if mod is None:
        return ()
    return tuple(cls for name in names if isinstance(cls := getattr(mod, name, None), type))


def _timeouts() -> tuple[type[BaseException], ...]:
    return (
        _loaded("httpx", "TimeoutException")
        + _loaded("requests.exceptions", "Timeout")
        + _loaded("aiohttp", "ServerTimeoutError")
        + _loaded("urllib3.exceptions", "TimeoutError")
    )


def _connection_errors() -> tuple[type[BaseException], ...]:
    return (
        _loaded("httpx", "TransportError")
        + _loaded("requests.exceptions", "ConnectionError")
        + _loaded("aiohttp", "ClientConnectionError")
        + _loaded("urllib3.exceptions", "NewConnectionError", "ProtocolError")
    )


def _status_of(obj: Any) -> int | None:
    """The HTTP status of a response, or of a status error's response."""
    for holder in (obj, getattr(obj, "response", None)):
        for attr in ("status_code", "status"):
            status = getattr(holder, attr, None)
            if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
                return status
    return None


def _error_kind(exc: BaseException) -> str | None:
    # urllib3 retries wrap the error that ended them.
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException) and type(exc).__name__ == "MaxRetryError":
        exc = reason
    # urllib3's NewConnectionError subclasses its ConnectTimeoutError: connection first.
    if isinstance(exc, _loaded("urllib3.exceptions", "NewConnectionError")):
        return "connection"
    if isinstance(exc, _timeouts()):
        return "timeout"
    if isinstance(exc, _connection_errors()):
        return "connection"
    return None


def classifier(
    *,
    client_errors: ClientErrors = "ignored",
    rejected: frozenset[int] | set[int] | tuple[int, ...] = (429, 503),
) -> Callable[[BaseException | None, Any], str | None]:
    """A ``classify`` hook for HTTP clients (see the module's docs).

    ``client_errors`` is the outcome of a 4xx status other than those in ``rejected``
    (default: ``ignored``); ``rejected`` are the statuses that mean the dependency is
    shedding load (default: 429 and 503).
    """
    if client_errors not in ("ignored", "failure", "success"):
        raise ValueError(f"invalid client_errors = {client_errors!r}: allowed 'ignored', 'failure', 'success'")
    shedding = frozenset(rejected)

    def classify(exc: BaseException | None, result: Any) -> str | None:
        if exc is not None:
            kind = _error_kind(exc)
            if kind is not None:
                return kind
        status = _status_of(exc if exc is not None else result)
        if status is None:
            return None
        if status in shedding:
            return "rejected"
        # The engine's status table, the one the Rust tower layer and the simulator use.
        outcome = _core._http_status_outcome(status)
        if outcome == "rejected":  # a shedding status the caller took out of `rejected`
            outcome = "server_error" if status >= 500 else "ignored"
        if outcome == "ignored":
            return client_errors
        if outcome == "success":
            return "success" if exc is None else None
        return outcome

    return classify


classify = classifier()
"""The default HTTP classifier: 4xx ignored, 429/503 rejected, 504 timeouts, 5xx server errors."""
