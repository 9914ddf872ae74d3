"""tripgate.http against a real local HTTP server (127.0.0.1, bounded timeouts) with
each client library: httpx, requests, urllib3 and aiohttp."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import tripgate
import tripgate.http

CLIENT_TIMEOUT = 0.3  # seconds; the slow path answers only when the test ends


class Handler(http.server.BaseHTTPRequestHandler):
    release: threading.Event

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow":
            self.release.wait(10)  # bounded: freed at teardown
        status = int(self.path.strip("/")) if self.path.strip("/").isdigit() else 200
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    release = threading.Event()
    handler = type("H", (Handler,), {"release": release})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def refused() -> str:
    """A URL on a port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


# (path, the outcome the breaker must record)
CASES = [
    ("/200", "success"),
    ("/404", "ignored"),
    ("/400", "ignored"),
    ("/500", "server_error"),
    ("/502", "server_error"),
    ("/429", "rejected"),
    ("/503", "rejected"),
    ("/504", "timeout"),
    ("/slow", "timeout"),
]


def recorded(b: tripgate.CircuitBreaker) -> str:
    m = b.metrics()
    if m.successes:
        return "success"
    if m.ignored:
        return "ignored"
    kinds = [k for k, v in m.failures_by_kind.items() if v]
    assert len(kinds) == 1, m
    return kinds[0]


def breaker() -> tripgate.CircuitBreaker:
    return tripgate.CircuitBreaker(fail_max=100, classify=tripgate.http.classify)


def run_sync(get: Any, url: str) -> str:
    b = breaker()
    try:
        b.call(get, url)
    except Exception:  # noqa: BLE001 - the breaker records it; the test reads the record
        pass
    return recorded(b)


@pytest.mark.parametrize(("path", "outcome"), CASES)
def test_requests(server: str, path: str, outcome: str) -> None:
    requests = pytest.importorskip("requests")
    with requests.Session() as s:
        assert run_sync(lambda u: s.get(u, timeout=CLIENT_TIMEOUT), server + path) == outcome


@pytest.mark.parametrize(("path", "outcome"), CASES)
def test_requests_raise_for_status(server: str, path: str, outcome: str) -> None:
    requests = pytest.importorskip("requests")

    def get(u: str) -> Any:
        r = requests.get(u, timeout=CLIENT_TIMEOUT)
        r.raise_for_status()
        return r

    assert run_sync(get, server + path) == outcome


@pytest.mark.parametrize(("path", "outcome"), CASES)
def test_httpx(server: str, path: str, outcome: str) -> None:
    httpx = pytest.importorskip("httpx")
    with httpx.Client(timeout=CLIENT_TIMEOUT) as c:
        assert run_sync(c.get, server + path) == outcome


@pytest.mark.parametrize(("path", "outcome"), CASES)
def test_httpx_raise_for_status(server: str, path: str, outcome: str) -> None:
    httpx = pytest.importorskip("httpx")
    with httpx.Client(timeout=CLIENT_TIMEOUT) as c:
        assert run_sync(lambda u: c.get(u).raise_for_status(), server + path) == outcome


@pytest.mark.parametrize(("path", "outcome"), CASES)
def test_urllib3(server: str, path: str, outcome: str) -> None:
    urllib3 = pytest.importorskip("urllib3")
    pool = urllib3.PoolManager(timeout=CLIENT_TIMEOUT, retries=False)
    assert run_sync(lambda u: pool.request("GET", u), server + path) == outcome


@pytest.mark.parametrize(("path", "outcome"), CASES)
def test_aiohttp(server: str, path: str, outcome: str) -> None:
    aiohttp = pytest.importorskip("aiohttp")

    async def main() -> str:
        b = breaker()
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as s:

            async def get(u: str) -> Any:
                async with s.get(u) as r:
                    await r.read()
                    return r

            try:
                await b.acall(get, server + path)
            except Exception:  # noqa: BLE001 - recorded by the breaker
                pass
        return recorded(b)

    assert asyncio.run(main()) == outcome


def test_connection_refused_is_a_connection_failure_for_every_library(refused: str) -> None:
    requests = pytest.importorskip("requests")
    httpx = pytest.importorskip("httpx")
    urllib3 = pytest.importorskip("urllib3")
    aiohttp = pytest.importorskip("aiohttp")
    assert run_sync(lambda u: requests.get(u, timeout=CLIENT_TIMEOUT), refused) == "connection"
    assert run_sync(lambda u: httpx.get(u, timeout=CLIENT_TIMEOUT), refused) == "connection"
    pool = urllib3.PoolManager(timeout=CLIENT_TIMEOUT, retries=False)
    assert run_sync(lambda u: pool.request("GET", u), refused) == "connection"
    pool_retrying = urllib3.PoolManager(timeout=CLIENT_TIMEOUT, retries=1)
    assert run_sync(lambda u: pool_retrying.request("GET", u), refused) == "connection"

    async def main() -> str:
        b = breaker()
        async with aiohttp.ClientSession() as s:
            try:
                await b.acall(s.get, refused)
            except Exception:  # noqa: BLE001 - recorded by the breaker
                pass
        return recorded(b)

    assert asyncio.run(main()) == "connection"


def test_client_errors_can_count_as_failures(server: str) -> None:
    httpx = pytest.importorskip("httpx")
    b = tripgate.CircuitBreaker(fail_max=100, classify=tripgate.http.classifier(client_errors="failure"))
    with httpx.Client(timeout=CLIENT_TIMEOUT) as c:
        b.call(c.get, server + "/404")
        b.call(c.get, server + "/200")
    m = b.metrics()
    assert (m.failures_by_kind["other"], m.successes) == (1, 1)


def test_an_unknown_client_errors_choice_is_refused() -> None:
    with pytest.raises(ValueError, match="client_errors"):
        tripgate.http.classifier(client_errors="maybe")  # type: ignore[arg-type]


def test_statuses_follow_the_engines_table() -> None:
    """The classifier reads a status through the engine's table (the Rust tower layer's)."""

    class Response:
        def __init__(self, status: int) -> None:
            self.status_code = status

    table = {200: "success", 302: "success", 404: "ignored", 429: "rejected", 500: "server_error",
             503: "rejected", 504: "timeout", 599: "server_error"}
    for status, outcome in table.items():
        assert tripgate._core._http_status_outcome(status) == outcome
        assert tripgate.http.classify(None, Response(status)) == outcome
    assert tripgate._core._http_status_outcome(-1) == "other"
    assert tripgate._core._http_status_outcome(70000) == "other"
    # taking 503 out of the shedding statuses makes it a server error, not a rejection
    assert tripgate.http.classifier(rejected=(429,))(None, Response(503)) == "server_error"
