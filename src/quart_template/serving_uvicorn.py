"""Uvicorn for `serve --server uvicorn` (the `uvicorn` extra): httptools on the project's uvloop,
driven programmatically so that shutdown follows the project's signals, not Uvicorn's. It spends
less CPU per request than Hypercorn, which shows most on the cheap gateway checks (README,
Performance > Gateway checks)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import httptools  # noqa: F401 - the parser below; missing, `serve` says which extra to install
import uvicorn

from quart_template.serving import KEEP_ALIVE_SECONDS, AsgiServer

if TYPE_CHECKING:
    from quart import Quart

# Never loaded: `bind` needs a config before any app exists (the workers build their own).
UNLOADED_APP = "quart_template.asgi:app"


class _Server(uvicorn.Server):
    """Uvicorn without its signal handling: `serving` installs the project's (readiness fails
    first, SHUTDOWN_DELAY, then the listener closes), and nothing re-raises the signal at exit,
    which would end the process with the signal instead of 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class UvicornServer(AsgiServer):
    """Uvicorn on `host:port`: httptools, lifespan on (the app opens its runtime at startup),
    no access log and no logging config of its own (its lines go through the root handler
    once), and client addresses left as the socket says (the app reads X-Forwarded-For
    itself, from TRUSTED_PROXIES only)."""

    name: ClassVar[str] = "uvicorn"

    def config(self, app: Quart | str) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            workers=self.workers,
            loop="none",  # the loop is already running: uvloop's, when installed
            http="httptools",
            ws="none",  # the app has no websocket routes (and websockets is only a dev tool)
            lifespan="on",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            # Uvicorn waits with asyncio.wait_for, which takes fractions of a second too.
            timeout_graceful_shutdown=self.graceful_timeout,  # type: ignore[arg-type]
        )

    def bind(self) -> list[socket.socket]:
        return [self.config(UNLOADED_APP).bind_socket()]

    async def serve(
        self, app: Quart, sockets: list[socket.socket] | None, shutdown: asyncio.Event
    ) -> None:
        server = _Server(self.config(app))

        async def exit_when_told() -> None:
            await shutdown.wait()
            server.should_exit = True  # its main loop looks every 0.1 s

        watcher = asyncio.create_task(exit_when_told())
        try:
            await server.serve(sockets=sockets)
        finally:
            watcher.cancel()
