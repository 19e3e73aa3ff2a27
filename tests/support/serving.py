"""The app served by a real Hypercorn on a free loopback port (startup and shutdown run), for
the tests a real browser drives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from tests.support.network import free_port

START_SECONDS = 30.0  # a bound, not an expectation


@asynccontextmanager
async def hypercorn_serving(app: Quart, *, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 (`port`, or a free one) until the block ends: its base URL."""
    config = Config()
    config.bind = [f"127.0.0.1:{port or free_port()}"]
    config.accesslog = None
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    base = f"http://{config.bind[0]}"
    try:
        await _wait_ready(base, server)
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(server, START_SECONDS)


async def _wait_ready(base: str, server: asyncio.Task[None]) -> None:
    async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(START_SECONDS):
        while True:
            if server.done():
                server.result()  # raises why it stopped
                raise AssertionError("the server stopped before it answered")
            try:
                if (await http.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)  # poll interval
