"""SQLite has one writer at a time. This process's writers queue at the write gate and are
handed the lock the moment it is free, instead of polling for it in SQLite's busy handler
(sleeps of up to 100 ms, the lock idle meanwhile); a writer that waits too long gets what
SQLite itself would answer, "database is locked", which the API turns into a 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template import db as persistence
from quart_template.db import make_engine, make_session_factory, reader
from quart_template.dbfaults import database_unavailable


@pytest.fixture
async def impatient(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A SQLite engine whose connections never wait for the lock themselves (busy_timeout 0):
    two transactions that reach SQLite together fail at once, unless they queued before."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def _no_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE written (n INTEGER NOT NULL)"))
    yield engine
    await engine.dispose()


async def test_concurrent_writers_in_one_process_queue_instead_of_failing(
    impatient: AsyncEngine,
) -> None:
    factory = make_session_factory(impatient)

    async def write(n: int) -> None:
        async with factory() as session, session.begin():
            await session.execute(text("INSERT INTO written (n) VALUES (:n)"), {"n": n})
            await asyncio.sleep(0.001)  # hold the transaction open while the others arrive
            await session.execute(text("UPDATE written SET n = n WHERE n = :n"), {"n": n})

    await asyncio.gather(*(write(n) for n in range(20)))
    async with impatient.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM written"))).scalar() == 20


async def test_a_writer_kept_waiting_too_long_is_told_the_database_is_locked(
    impatient: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(persistence, "WRITE_WAIT_SECONDS", 0.05)
    factory = make_session_factory(impatient)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with factory() as session, session.begin():
            await session.execute(text("INSERT INTO written (n) VALUES (1)"))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    with pytest.raises(OperationalError) as refused:
        async with factory() as session, session.begin():
            await session.execute(text("INSERT INTO written (n) VALUES (2)"))
    assert database_unavailable(refused.value)  # answered as a 503, like SQLite's own
    # Readers take no part in it: they read the last commit while the writer holds the lock.
    async with make_session_factory(reader(impatient))() as session, session.begin():
        assert (await session.execute(text("SELECT count(*) FROM written"))).scalar() == 0
    release.set()
    await holder
    async with factory() as session, session.begin():  # free again once the holder is done
        await session.execute(text("INSERT INTO written (n) VALUES (3)"))


async def test_a_cancelled_writer_hands_the_gate_on(impatient: AsyncEngine) -> None:
    factory = make_session_factory(impatient)
    inside = asyncio.Event()

    async def stuck() -> None:
        async with factory() as session, session.begin():
            await session.execute(text("INSERT INTO written (n) VALUES (1)"))
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with factory() as session, session.begin():
        await session.execute(text("INSERT INTO written (n) VALUES (2)"))
    async with impatient.connect() as conn:
        assert (await conn.execute(text("SELECT n FROM written"))).scalars().all() == [2]
