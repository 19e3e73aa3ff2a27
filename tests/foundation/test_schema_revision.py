"""A database this release cannot use yet (never migrated, or at an earlier revision) is said in
one line at start-up and by `/readyz`, naming the command that fixes it; it is never a stream of
500s. A later revision than this code knows (a newer release migrated first) is usable."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template import migrations
from quart_template.app import create_app
from quart_template.db import make_engine
from quart_template.migrations import migrate, open_database, schema_problem
from quart_template.settings import ConfigError, Settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
HEAD, KNOWN = migrations._revisions()


@pytest.fixture
def later_release(monkeypatch: pytest.MonkeyPatch) -> str:
    """This code as a release that added a revision after the shipped head."""
    monkeypatch.setattr(migrations, "_revisions", lambda: ("f00dfeed", KNOWN | {"f00dfeed"}))
    return "f00dfeed"


@pytest.fixture
async def migrated(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[Settings]:
    settings = make_settings(database_url_=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    await asyncio.to_thread(migrate, settings)
    yield settings


async def _execute(engine: AsyncEngine, statement: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(statement))


async def test_a_database_at_the_head_revision_is_usable(migrated: Settings) -> None:
    engine = make_engine(migrated.database_url)
    try:
        assert await schema_problem(engine) is None
    finally:
        await engine.dispose()


async def test_an_earlier_revision_an_empty_version_table_or_no_tables_are_problems(
    migrated: Settings, later_release: str, tmp_path: Path
) -> None:
    engine = make_engine(migrated.database_url)
    empty = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        assert await schema_problem(engine) == (
            f"the database schema is at revision {HEAD}, this release needs {later_release}"
        )
        await _execute(engine, "DELETE FROM alembic_version")
        assert await schema_problem(engine) == "the database has no schema revision"
        assert await schema_problem(empty) == "the database has no tables"
    finally:
        await engine.dispose()
        await empty.dispose()


async def test_a_revision_this_code_does_not_know_is_a_later_release_and_usable(
    migrated: Settings,
) -> None:
    engine = make_engine(migrated.database_url)
    try:
        await _execute(engine, "UPDATE alembic_version SET version_num = 'ffffffffffff'")
        assert await schema_problem(engine) is None
    finally:
        await engine.dispose()


async def test_readyz_is_503_and_names_the_command_while_the_schema_is_behind(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(migrated)
    async with app.test_app() as served:
        client = served.test_client()
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert "schema" not in await ready.get_json()
        monkeypatch.setattr(migrations, "_revisions", lambda: ("f00dfeed", KNOWN | {"f00dfeed"}))
        behind = await client.get("/readyz")
        assert behind.status_code == 503
        body = await behind.get_json()
        assert body["status"] == "degraded" and body["database"] == "ok"
        assert body["schema"].endswith("run `quart-template migrate`")
        assert "f00dfeed" in body["schema"]


@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("mysql"), reason="a server database: TEST_DATABASE_URL"
)
async def test_an_unmigrated_server_database_stops_start_up_with_one_line(
    make_settings: Callable[..., Settings],
) -> None:
    base = make_url(TEST_DATABASE_URL)
    name = f"{base.database}_unmigrated"
    admin = make_engine(TEST_DATABASE_URL)
    await _execute(admin, f"DROP DATABASE IF EXISTS `{name}`")
    await _execute(admin, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        with pytest.raises(ConfigError) as refused:
            await open_database(make_settings(database_url_=url))
        line = str(refused.value)
        assert "DATABASE_URL" in line and "no tables" in line
        assert "run `quart-template migrate`" in line
        assert "\n" not in line
    finally:
        await _execute(admin, f"DROP DATABASE IF EXISTS `{name}`")
        await admin.dispose()
