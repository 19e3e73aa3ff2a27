"""`quart-template serve` stops the same way under either server, in one process or two: a
request in flight when SIGTERM arrives still gets its answer, `/readyz` fails during
SHUTDOWN_DELAY while everything else is still served, a second signal closes the listener at
once, and the process exits 0. Real processes, real sockets."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from quart_template.serving import SERVERS
from tests.gateway.processes import AppServer

DEADLINE = 60.0  # seconds: bounds, not expectations
CLOSING = "closing the listener"  # serving's line when a process stops accepting


def _app_server(tmp_path: Path, server: str, workers: int, **variables: str) -> AppServer:
    """`serve` with ASGI_SERVER=`server` on a free port; nothing of the developer's settings."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shutdown.db'}"}
    env |= {"ASGI_SERVER": server, "LOG_LEVEL": "INFO"} | variables
    return AppServer(tmp_path, env, workers=workers)


def _poll(check: Callable[[], bool], app: AppServer, what: str) -> None:
    """Until `check()` holds; fail with the log when it does not within DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)  # poll interval
    raise AssertionError(f"{what} not seen in {DEADLINE} s:\n{app.log.read_text()}")


class SignUpInFlight:
    """A sign-up whose headers the server has taken (it answered `100 Continue`: the request
    is being handled and waits for its body), its body held back until `finish`."""

    def __init__(self, app: AppServer) -> None:
        body = {"email": "late@example.com", "password": "in flight 0123", "first_name": "L"}
        self.body = json.dumps(body | {"last_name": "Ate"}).encode()
        self.sock = socket.create_connection(("127.0.0.1", app.port), timeout=DEADLINE)
        head = (
            f"POST /signup HTTP/1.1\r\nHost: {app.address}\r\n"
            "Content-Type: application/json\r\nExpect: 100-continue\r\n"
            f"Content-Length: {len(self.body)}\r\n\r\n"
        )
        self.sock.sendall(head.encode())
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            chunk = self.sock.recv(1)
            assert chunk, "the server closed the connection instead of continuing"
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100"), interim

    def finish(self) -> int:
        """Send the body; the final status."""
        self.sock.sendall(self.body)
        response = http.client.HTTPResponse(self.sock)
        response.begin()
        response.read()
        self.sock.close()
        return response.status


def _stopped(app: AppServer) -> int:
    assert app.process is not None
    return app.process.wait(timeout=DEADLINE)


def _get(app: AppServer, path: str) -> int:
    """One request on a connection of its own (any worker may take it)."""
    with httpx.Client(timeout=10) as client:
        response = client.get(f"http://{app.address}{path}", headers={"Connection": "close"})
        return response.status_code


Start = Callable[..., AppServer]
KINDS = [(server, workers) for workers in (1, 2) for server in SERVERS]


@pytest.fixture(params=KINDS, ids=[f"{server}-{workers}" for server, workers in KINDS])
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Start]:
    """Starts `serve` (each server, with one process and two) with the given settings, and
    stops it for sure at the end."""
    server, workers = request.param
    started: list[AppServer] = []

    def begin(**variables: str) -> AppServer:
        app = _app_server(tmp_path, server, workers, **variables)
        started.append(app)
        app.start()
        app.wait_ready()
        return app

    yield begin
    for app in started:
        app.stop()


def _sigterm(app: AppServer) -> None:
    assert app.process is not None
    app.process.send_signal(signal.SIGTERM)


def test_a_request_in_flight_at_sigterm_is_answered_and_serve_exits_0(start: Start) -> None:
    app = start(GRACEFUL_TIMEOUT="30")
    in_flight = SignUpInFlight(app)
    _sigterm(app)
    # Every process has stopped accepting before the body goes out.
    _poll(lambda: app.log.read_text().count(CLOSING) == app.workers, app, CLOSING)
    assert in_flight.finish() == 201
    assert _stopped(app) == 0
    log = app.log.read_text()
    assert "Traceback" not in log and " ERROR " not in log, log
    assert f"server {app.env['ASGI_SERVER']}" in log


def test_readyz_fails_during_the_shutdown_delay_and_a_second_signal_closes_at_once(
    start: Start,
) -> None:
    app = start(SHUTDOWN_DELAY="300")
    assert _get(app, "/readyz") == 200
    _sigterm(app)
    _poll(lambda: _get(app, "/readyz") == 503, app, "/readyz 503")
    assert _get(app, "/") == 200  # still served: the balancer has not moved away yet
    _sigterm(app)  # an impatient operator: no 300 s wait
    assert _stopped(app) == 0
    assert app.log.read_text().count(CLOSING) == app.workers
    with pytest.raises(httpx.ConnectError):
        _get(app, "/")
