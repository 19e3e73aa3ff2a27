"""Persistence: one async engine per app, sessions and transactions, the declarative base and
the column types every model uses. Versioning lives in `entities`; nothing here knows of the
entities or of events."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    event,
    text,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

from quart_template.dbfaults import watch_connections

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_entity_id() -> str:
    """An entity id as Flask Template makes them: a uuid4 as 32 lower-case hex characters."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (MySQL DATETIME has no zone), always returned aware."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "mysql":
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# BigInteger primary keys autoincrement on SQLite only as INTEGER.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


POOL_RECYCLE_SECONDS = 280
# SQLite's pool keeps as many connections as a busy process uses at once. With SQLAlchemy's
# default of 5, a moderate load (8 readers, a login, the relay's two workers) opened and closed
# some 23 connections a second, each an aiosqlite thread started, the file opened and four
# PRAGMAs run; an idle pooled connection costs only its parked thread.
SQLITE_POOL_SIZE = 20
SQLITE_MAX_OVERFLOW = 10


def make_engine(url: str) -> AsyncEngine:
    """The one engine: SQLite with WAL and foreign keys, MySQL with pre-ping, recycle, utf8mb4."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_MAX_OVERFLOW,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" hook below emit BEGIN (pysqlite's own is lazy).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # One writer at a time: take the write lock at BEGIN, not at the first write,
            # so concurrent transactions queue instead of failing with "database is locked".
            # Readers (see `reader`) take no lock: each statement is its own snapshot.
            if not conn.get_execution_options().get(READ_ONLY_OPTION, False):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        watch_connections(engine)
        return engine
    if url.startswith("mysql"):
        # Recycled well below MySQL's default wait_timeout (8 h) and the idle cut of most proxies.
        engine = create_async_engine(
            url,
            pool_pre_ping=True,
            pool_recycle=POOL_RECYCLE_SECONDS,
            pool_size=10,
            max_overflow=20,
        )
    else:
        engine = create_async_engine(url, pool_pre_ping=True)
    watch_connections(engine)
    return engine


READ_ONLY_OPTION = "quart_template_read_only"
_READERS: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) for work that only reads: on SQLite it runs without BEGIN,
    so it neither waits for nor holds the single write lock, and each statement sees the latest
    commit (no snapshot across statements). Use: `factory(bind=reader(engine))`; never write."""
    found = _READERS.get(engine)
    if found is None:
        found = _READERS[engine] = engine.execution_options(**{READ_ONLY_OPTION: True})
    return found


# SQLite's own wait for the write lock (busy_timeout above) polls with sleeps of up to 100 ms,
# leaving the lock idle meanwhile: under a steady stream of writers (logins next to a relay
# draining a backlog) throughput collapsed to a tenth. This process's writers queue here
# instead and get the lock the moment its holder is done. Other processes on the same file
# still meet SQLite's busy handler.
WRITE_WAIT_SECONDS = 30.0  # as long as SQLite's own busy_timeout
_GATES: weakref.WeakKeyDictionary[Pool, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def write_gate(bind: AsyncEngine | AsyncConnection | None) -> AbstractAsyncContextManager[Any]:
    """Hold this while a write transaction runs on `bind`: one writer at a time per SQLite
    database in this process, queued in order; nothing to hold on other databases or for a
    `reader` bind. Not re-entrant: a task never opens a second write transaction inside one."""
    engine = bind.engine if isinstance(bind, AsyncConnection) else bind
    if (
        engine is None
        or engine.dialect.name != "sqlite"
        or engine.get_execution_options().get(READ_ONLY_OPTION, False)
    ):
        return nullcontext()
    pool = engine.sync_engine.pool
    loop = asyncio.get_running_loop()
    found = _GATES.get(pool)
    if found is None or found[0] is not loop:  # a lock serves one event loop
        found = _GATES[pool] = (loop, asyncio.Lock())
    return _held(found[1])


@asynccontextmanager
async def _held(lock: asyncio.Lock) -> AsyncIterator[None]:
    try:
        await asyncio.wait_for(lock.acquire(), WRITE_WAIT_SECONDS)
    except TimeoutError:
        # What SQLite itself raises after busy_timeout: the API answers it with a 503.
        raise OperationalError(
            "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
        ) from None
    try:
        yield
    finally:
        lock.release()


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


T = TypeVar("T")


async def finish(work: Awaitable[T]) -> T:
    """Run `work` to its end even when the calling task is cancelled meanwhile (a client that
    disconnects cancels its request, Hypercorn sometimes a second time), then let the
    cancellation go on. For cleanup that must not stop halfway: a connection left between a
    rollback and its return to the pool is lost to the pool for good."""
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as error:
            if task.done():
                raise
            cancelled = error
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


class _Transaction(AsyncSessionTransaction):
    """`session.begin()` that waits at the SQLite write gate (`write_gate`), and whose end
    (commit or rollback, and the connection's return to the pool) always completes:
    SQLAlchemy shields a session's close, not a transaction's end."""

    _gate: AbstractAsyncContextManager[Any] | None = None

    async def __aenter__(self) -> AsyncSessionTransaction:
        gate = write_gate(self.session.bind)
        await gate.__aenter__()
        try:
            entered = await super().__aenter__()
        except BaseException:
            await gate.__aexit__(None, None, None)
            raise
        self._gate = gate
        return entered

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        try:
            if isinstance(value, asyncio.CancelledError):
                # Cancelled mid-request: the driver may be halfway through reading an answer,
                # so a ROLLBACK on that connection would read the rest of it. Throw the
                # connection away instead; the server rolls the transaction back when it closes.
                await finish(self.session.invalidate())
                return
            await finish(super().__aexit__(type_, value, traceback))
        finally:
            gate, self._gate = self._gate, None
            if gate is not None:
                await gate.__aexit__(None, None, None)


class Session(AsyncSession):
    """The service's session: its transactions finish cleanly even when a request is cancelled."""

    def begin(self) -> AsyncSessionTransaction:
        return _Transaction(self)


def make_session_factory(
    engine: AsyncEngine, *, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects after commit; `info` is copied into every session
    (hooks of other layers read it, e.g. where entity events go)."""
    return async_sessionmaker(engine, class_=Session, expire_on_commit=False, info=info or {})


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work commits as one transaction, or rolls back on error."""
    async with factory() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> None:
    """Raise when the database cannot answer a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
