"""A client that goes away mid-request (a load balancer timeout, a closed tab) makes Quart cancel
the request's task, and Hypercorn may cancel it again while it cleans up: that must leave no
connection checked out of the pool and no traceback in the log. Real Hypercorn and Uvicorn (as
`serve` runs them), real sockets."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiomysql
import aiosqlite
import httpx
import pytest
from quart import Quart
from sqlalchemy import text

from quart_template.app import create_app
from quart_template.db import make_engine, make_session_factory
from quart_template.runtime import Runtime
from quart_template.serving import SERVERS, asgi_server
from quart_template.settings import Settings
from tests.support.factories import DEFAULT_PASSWORD, signed_in
from tests.support.network import free_port


@pytest.fixture(params=SERVERS)
async def served(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> AsyncIterator[tuple[Quart, str]]:
    """The app under each server on a loopback port, in this event loop."""
    settings = make_settings(graceful_timeout=1)
    app = create_app(settings)
    port = free_port()
    chosen = asgi_server(
        request.param, settings, variable="server", host="127.0.0.1", port=port, workers=1
    )
    stop = asyncio.Event()
    server = asyncio.ensure_future(chosen.serve(app, None, stop))
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(200):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.02)
    try:
        yield app, base
    finally:
        stop.set()
        await server


async def _pool_drained(rt: Runtime, deadline: float = 10.0) -> int:
    """The pool's checked-out count once it reaches zero, or what it is at the deadline (the
    server finishes cancelled requests on its own time; the pool has no event to wait on)."""
    pool = rt.engine.sync_engine.pool
    end = time.monotonic() + deadline
    count: int = pool.checkedout()  # type: ignore[attr-defined]
    while count and time.monotonic() < end:
        await asyncio.sleep(0.05)
        count = pool.checkedout()  # type: ignore[attr-defined]
    return count


async def test_disconnected_clients_leave_no_connection_checked_out_and_no_traceback(
    served: tuple[Quart, str], caplog: pytest.LogCaptureFixture
) -> None:
    app, base = served
    rt: Runtime = app.extensions["runtime"]
    user = await signed_in(rt)
    login = {"email": user.person.email, "password": DEFAULT_PASSWORD}
    with caplog.at_level(logging.WARNING):
        for round_ in range(24):
            async with httpx.AsyncClient(base_url=base) as client:
                requests = [
                    client.get("/sessions", headers=user.headers),
                    client.get("/me", headers=user.headers),
                    client.get("/security_events", headers=user.headers),
                    client.post("/login", json=login),
                ] * 3
                tasks = [asyncio.ensure_future(request) for request in requests]
                await asyncio.sleep(
                    0.002 * (round_ % 12)
                )  # hang up at a different moment each round
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        assert await _pool_drained(rt) == 0
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/sessions", headers=user.headers)).status_code == 200


@pytest.mark.parametrize(
    ("ending", "slow_step"),
    [("commit", "commit"), ("commit", "rollback"), ("rollback", "rollback")],
)
async def test_a_transaction_cancelled_while_it_ends_still_returns_its_connection(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    ending: str,
    slow_step: str,
) -> None:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    ending_started = asyncio.Event()
    driver = aiosqlite.Connection if database_url.startswith("sqlite") else aiomysql.Connection
    original = getattr(driver, slow_step)

    async def slow(self: object) -> None:  # a commit or rollback that takes a network round trip
        ending_started.set()
        await asyncio.sleep(0.2)
        await original(self)

    monkeypatch.setattr(driver, slow_step, slow)

    async def work() -> None:
        async with factory() as db, db.begin():
            await db.execute(text("SELECT 1"))
            if ending == "rollback":
                raise LookupError("the request failed")

    try:
        with caplog.at_level(logging.WARNING):
            task = asyncio.ensure_future(work())
            await ending_started.wait()
            while not task.done():  # the client hangs up just then, and the server cancels again
                task.cancel()
                await asyncio.sleep(0.01)
            with pytest.raises((asyncio.CancelledError, LookupError)):
                await task
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    finally:
        await engine.dispose()


async def test_a_transaction_cancelled_mid_statement_discards_its_connection(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    started = asyncio.Event()
    used: list[object] = []

    async def work() -> None:
        async with factory() as db, db.begin():
            await db.execute(text("SELECT 1"))
            used.append((await (await db.connection()).get_raw_connection()).driver_connection)
            started.set()
            await asyncio.Event().wait()  # a statement that never answers

    try:
        with caplog.at_level(logging.WARNING):
            task = asyncio.ensure_future(work())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        async with factory() as db:  # the next one is a fresh connection, not the abandoned one
            assert (await db.execute(text("SELECT 1"))).scalar() == 1
            fresh = (await (await db.connection()).get_raw_connection()).driver_connection
        assert fresh is not used[0]
    finally:
        await engine.dispose()
