"""The old database: a SQLite file next to the test database, or with TEST_DATABASE_URL
(MariaDB) a throw-away database on the same server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.legacy.oldschema import OldDatabase, create_schema
from tests.legacy.world import World, build_world
from tests.social.conftest import providers, settings  # noqa: F401 - the fake providers
from tests.support.backends import TEST_DATABASE_URL


@pytest.fixture
async def legacy_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty Flask Template schema; dropped afterwards."""
    if not TEST_DATABASE_URL:
        url = f"sqlite+aiosqlite:///{tmp_path / 'flask_template.db'}"
        engine = create_async_engine(url)
        await create_schema(engine)
        await engine.dispose()
        yield url
        return
    server = make_url(TEST_DATABASE_URL)
    name = f"{server.database}_legacy_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)
    await create_schema(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP DATABASE `{name}`"))
        await admin.dispose()


@pytest.fixture
async def world(legacy_url: str) -> World:
    engine = create_async_engine(legacy_url)
    try:
        return await build_world(OldDatabase(engine))
    finally:
        await engine.dispose()
