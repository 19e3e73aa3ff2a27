"""Hypercorn, the default server of `serve`: its config, and serving until told to stop."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from quart_template.serving import KEEP_ALIVE_SECONDS, AsgiServer

if TYPE_CHECKING:
    from quart import Quart


@dataclass(frozen=True)
class HypercornServer(AsgiServer):
    """Hypercorn on `host:port`, plain HTTP (TLS ends at the proxy), no access log of its own
    (the app writes one line per request)."""

    name: ClassVar[str] = "hypercorn"

    def config(self) -> Config:
        config = Config()
        config.bind = [f"{self.host}:{self.port}"]
        config.workers = self.workers  # several: the sockets get SO_REUSEPORT
        config.accesslog = None
        # Hypercorn's own logger would add a second handler; ours (on the root) formats each
        # line once.
        config.errorlog = logging.getLogger("hypercorn.error")
        config.graceful_timeout = self.graceful_timeout
        config.keep_alive_timeout = KEEP_ALIVE_SECONDS
        return config

    def bind(self) -> list[socket.socket]:
        return self.config().create_sockets().insecure_sockets

    async def serve(
        self, app: Quart, sockets: list[socket.socket] | None, shutdown: asyncio.Event
    ) -> None:
        config = self.config()
        shared = None if sockets is None else Sockets([], sockets, [])
        wrapped = wrap_app(app, config.wsgi_max_body_size, None)
        await worker_serve(wrapped, config, sockets=shared, shutdown_trigger=shutdown.wait)
