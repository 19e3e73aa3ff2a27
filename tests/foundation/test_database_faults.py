"""A database that cannot be reached (a blip, a failover, a proxy resetting connections, SQLite's
writer lock timing out) answers JSON 503 with Retry-After, never a 500 with a traceback, and the
service recovers by itself when the database is back."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable
from typing import Any

import pymysql
import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from quart_template.app import create_app
from quart_template.db import make_engine
from quart_template.dbfaults import database_unavailable
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.tcp_proxy import TcpProxy
from tests.support.factories import DEFAULT_PASSWORD, signed_in

CLOSED = (
    "unable to perform operation on <TCPTransport closed=True reading=False>; the handler is closed"
)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError(CLOSED),
        ConnectionResetError(104, "Connection reset by peer"),
        pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
        pymysql.err.OperationalError(2006, "MySQL server has gone away"),
        pymysql.err.OperationalError(2003, "Can't connect to MySQL server"),
        sqlite3.OperationalError("database is locked"),
        sa_exc.OperationalError("SELECT 1", {}, pymysql.err.OperationalError(2013, "Lost")),
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached"),
    ],
)
def test_errors_that_mean_the_database_is_out_of_reach(error: BaseException) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("something else broke"),
        ValueError("bad value"),
        pymysql.err.OperationalError(1054, "Unknown column"),
        sqlite3.OperationalError("no such table: person"),
        sa_exc.IntegrityError("INSERT", {}, pymysql.err.IntegrityError(1062, "Duplicate")),
    ],
)
def test_real_failures_are_not_mistaken_for_a_blip(error: BaseException) -> None:
    assert not database_unavailable(error)


def test_a_ping_on_a_closed_transport_asks_for_a_fresh_connection(database_url: str) -> None:
    dialect = make_engine(database_url).sync_engine.dialect

    class Closed:
        def cursor(self) -> Any:
            raise RuntimeError(CLOSED)

        def ping(self, *args: Any) -> Any:
            raise RuntimeError(CLOSED)

    class Broken(Closed):
        def cursor(self) -> Any:
            raise ValueError("a bug")

        def ping(self, *args: Any) -> Any:
            raise ValueError("a bug")

    assert dialect.do_ping(Closed()) is False
    with pytest.raises(ValueError):
        dialect.do_ping(Broken())


async def test_a_connection_lost_while_the_pool_resets_it_is_one_warning_not_a_traceback(
    database_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url)
    try:
        for error, level in (
            (pymysql.err.OperationalError(2013, "Lost connection"), logging.WARNING),
            (ValueError("a bug in a reset"), logging.ERROR),
        ):

            def failing_rollback(*args: Any, _error: BaseException = error) -> None:
                raise _error

            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="sqlalchemy.pool"):
                async with engine.connect() as connection:
                    await connection.exec_driver_sql("SELECT 1")
                    await connection.commit()  # what is left is the pool's own reset on return
                    monkeypatch.setattr(engine.sync_engine.dialect, "do_rollback", failing_rollback)
            monkeypatch.undo()
            (record,) = [r for r in caplog.records if r.name.startswith("sqlalchemy.pool")]
            assert record.levelno == level
            assert (record.exc_info is None) is (level == logging.WARNING)
    finally:
        await engine.dispose()


async def test_a_lost_connection_is_a_json_503_without_a_traceback(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    user = await signed_in(rt)

    async def lost(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(CLOSED)

    monkeypatch.setattr("quart_template.sessions.check.authenticate_token", lost)
    with caplog.at_level(logging.WARNING):
        response = await client.get("/me", headers=user.headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert await response.get_json() == {
        "success": False,
        "message": "The database is unavailable, please try again shortly.",
    }
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


MYSQL = os.environ.get("TEST_DATABASE_URL", "").startswith("mysql")


@pytest.mark.skipif(not MYSQL, reason="resets a real MariaDB's connections: TEST_DATABASE_URL")
async def test_connections_reset_under_load_give_only_200_or_503_then_recover(
    make_settings: Callable[..., Settings], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 3306)
    await proxy.start()
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(make_settings(database_url_=through))
    statuses: list[int] = []
    try:
        async with app.test_app() as served:
            rt: Runtime = app.extensions["runtime"]
            user = await signed_in(rt)
            client = served.test_client()
            login = {"email": user.person.email, "password": DEFAULT_PASSWORD}
            stop = asyncio.Event()

            async def load() -> None:
                while not stop.is_set():
                    for response in (
                        await client.get("/me", headers=user.headers),
                        await client.get("/sessions", headers=user.headers),
                        await client.post("/login", json=login),
                    ):
                        statuses.append(response.status_code)
                        if response.status_code == 503:
                            assert response.headers["Retry-After"]
                            assert (await response.get_json())["success"] is False

            with caplog.at_level(logging.WARNING):
                workers = [asyncio.create_task(load()) for _ in range(4)]
                await asyncio.sleep(0.5)
                await proxy.cut()  # every pooled connection is reset, new ones are refused
                await asyncio.sleep(2)
                await proxy.restore()
                await _until_ok(client, user.headers)
                stop.set()
                await asyncio.gather(*workers)
                after = [
                    (await client.get("/me", headers=user.headers)).status_code for _ in range(20)
                ]
    finally:
        await proxy.cut()
    assert set(statuses) <= {200, 503} and 503 in statuses and 200 in statuses
    assert after == [200] * 20
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def _until_ok(client: Client, headers: dict[str, str]) -> None:
    """Poll until the service answers again (it must, by itself, within 10 s)."""
    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        if (await client.get("/me", headers=headers)).status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the service did not recover within 10 s of the database coming back")
