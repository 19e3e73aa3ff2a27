"""The Alembic revision upgrades, downgrades and upgrades again, and matches the models exactly.

Sync tests on purpose: Alembic's env.py runs its own event loop (`asyncio.run`).
On MariaDB (TEST_DATABASE_URL) the test uses its own throw-away database `<name>_mig`, so the
schema the rest of the suite uses is never touched.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from quart_template.db import make_engine
from quart_template.migrations import alembic_config
from quart_template.models import Base
from quart_template.settings import Settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def _run_admin(url: str, statement: str) -> None:
    async def run() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", "mariadb"])
def migration_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a `<name>_mig` database next to TEST_DATABASE_URL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    if not TEST_DATABASE_URL or not TEST_DATABASE_URL.startswith("mysql"):
        pytest.skip("MariaDB migrations run when TEST_DATABASE_URL is a MySQL/MariaDB URL")
    base = make_url(TEST_DATABASE_URL)
    name = f"{base.database}_mig"
    _run_admin(TEST_DATABASE_URL, f"DROP DATABASE IF EXISTS `{name}`")
    _run_admin(TEST_DATABASE_URL, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        _run_admin(TEST_DATABASE_URL, f"DROP DATABASE IF EXISTS `{name}`")


def _alembic(url: str) -> Any:
    return alembic_config(Settings.model_construct(database_url_=url))


def _inspect(url: str) -> tuple[set[str], list[Any]]:
    """The tables present, and Alembic's diff between the database and the models."""

    def look(sync_conn: Any) -> tuple[set[str], list[Any]]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return set(inspect(sync_conn).get_table_names()), compare_metadata(context, Base.metadata)

    async def run() -> tuple[set[str], list[Any]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_upgrade_downgrade_upgrade_leaves_no_drift(migration_url: str) -> None:
    config = _alembic(migration_url)
    model_tables = set(Base.metadata.tables)

    command.upgrade(config, "head")
    tables, diff = _inspect(migration_url)
    assert model_tables <= tables
    assert diff == [], f"models and migrations differ: run `make migration` ({diff})"

    command.downgrade(config, "base")
    tables, _ = _inspect(migration_url)
    assert tables & model_tables == set()

    command.upgrade(config, "head")
    tables, diff = _inspect(migration_url)
    assert model_tables <= tables
    assert diff == []


def test_an_empty_sqlite_database_is_migrated_when_the_app_starts(
    make_settings: Any, tmp_path: Path
) -> None:
    """`quart-template serve` (or any ASGI server) on a brand-new SQLite file just works."""
    from quart_template.app import create_app

    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'app.db'}"
    settings = make_settings(database_url_=url)

    async def first_run() -> int:
        app = create_app(settings)
        async with app.test_app() as served:
            client = served.test_client()
            signup = await client.post(
                "/signup",
                json={
                    "first_name": "Fresh",
                    "last_name": "Start",
                    "email": "fresh@example.com",
                    "password": "a long passphrase 1",
                },
            )
            return signup.status_code

    assert asyncio.run(first_run()) in (200, 201)
    tables, diff = _inspect(url)
    assert set(Base.metadata.tables) <= tables and "alembic_version" in tables
    assert diff == []
    assert asyncio.run(first_run()) in (200, 201)  # a second start finds it at head
