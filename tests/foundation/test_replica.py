"""DATABASE_READ_URL: token checks and lists read from the replica; writes never go there; a
replica that lags is asked again of the primary when it finds nothing; a replica out of reach
costs one warning and the primary answers. On MariaDB the replica is the test database through a
TCP proxy, as a user who may only SELECT (a write there would fail)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from quart_template import replica as replica_module
from quart_template.app import create_app
from quart_template.db import make_engine
from quart_template.models import Base
from quart_template.settings import Settings
from tests.fakes.tcp_proxy import TcpProxy
from tests.support.backends import TEST_DATABASE_URL
from tests.support.factories import DEFAULT_PASSWORD, create_person

MYSQL = TEST_DATABASE_URL.startswith("mysql") if TEST_DATABASE_URL else False
READER = "qt_replica_reader"


async def _admin(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_replica(tmp_path: Path, database_url: str) -> AsyncIterator[str]:
    """A replica that has not caught up at all: the schema, and none of the primary's rows."""
    if MYSQL:
        base = make_url(database_url)
        name = f"{base.database}_replica"
        await _admin(database_url, f"DROP DATABASE IF EXISTS `{name}`", f"CREATE DATABASE `{name}`")
        url = base.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}"
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()
    yield url
    if MYSQL:
        await _admin(database_url, f"DROP DATABASE IF EXISTS `{make_url(url).database}`")


async def test_a_replica_that_lags_never_refuses_a_fresh_token(
    make_settings: Callable[..., Settings], empty_replica: str
) -> None:
    app = create_app(make_settings(database_read_url=empty_replica, session_cache_seconds=0))
    async with app.test_app() as served:
        rt = app.extensions["runtime"]
        person = await create_person(rt, email="lag@example.com")
        client = served.test_client()
        login = await client.post(
            "/login", json={"email": "lag@example.com", "password": DEFAULT_PASSWORD}
        )
        assert login.status_code == 200  # a login reads the primary
        token = (await login.get_json())["user"]["access_token"]
        me = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200  # the replica has no such session yet: the primary has
        assert (await me.get_json())["user"]["entity_id"] == person.entity_id
        # Lists may lag: this replica has none of the sessions yet.
        listed = await client.get("/sessions", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200


@pytest.mark.skipif(not MYSQL, reason="a SELECT-only MariaDB user: TEST_DATABASE_URL")
async def test_reads_go_to_the_replica_writes_never_and_an_outage_costs_one_warning(
    make_settings: Callable[..., Settings],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = make_url(database_url)
    await _admin(
        database_url,
        f"DROP USER IF EXISTS '{READER}'@'%'",
        f"CREATE USER '{READER}'@'%' IDENTIFIED BY 'replica-pw'",
        f"GRANT SELECT ON `{base.database}`.* TO '{READER}'@'%'",
    )
    proxy = TcpProxy(base.host or "127.0.0.1", base.port or 3306)
    await proxy.start()
    replica_url = base.set(
        username=READER, password="replica-pw", host="127.0.0.1", port=proxy.port
    ).render_as_string(hide_password=False)
    monkeypatch.setattr(replica_module, "REPLICA_RETRY_SECONDS", 0.0)  # ask it again at once
    settings = make_settings(database_read_url=replica_url, session_cache_seconds=0)
    try:
        app = create_app(settings)
        async with app.test_app() as served:
            rt = app.extensions["runtime"]
            await create_person(rt, email="rep@example.com")
            client = served.test_client()
            body = {"email": "rep@example.com", "password": DEFAULT_PASSWORD}
            login = await client.post("/login", json=body)
            assert login.status_code == 200  # its writes went to the primary
            auth = {"Authorization": f"Bearer {(await login.get_json())['user']['access_token']}"}
            for path in ("/me", "/sessions", "/security_events"):
                assert (await client.get(path, headers=auth)).status_code == 200, path
            assert proxy.accepted > 0  # those reads were the replica's
            with caplog.at_level(logging.INFO, logger="quart_template.replica"):
                await proxy.cut()
                for path in ("/me", "/sessions", "/security_events", "/me"):
                    assert (await client.get(path, headers=auth)).status_code == 200, path
                await proxy.restore()
                before = proxy.accepted
                assert (await client.get("/me", headers=auth)).status_code == 200
                assert proxy.accepted > before  # back on the replica
            events = [getattr(r, "event", None) for r in caplog.records]
            assert events.count("replica_down") == 1 and events.count("replica_back") == 1
    finally:
        await proxy.cut()
        await _admin(database_url, f"DROP USER IF EXISTS '{READER}'@'%'")
