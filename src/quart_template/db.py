"""One async engine per app, the declarative base and the versioned-entity machinery.

Every versioned entity keeps its current row in its own table and each earlier version in
`<table>_audit`. The copy is made by the database itself (INSERT ... SELECT) just before the
UPDATE, inside the same transaction, so no code path can change an entity without history.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, Session, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

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
    """The seed's entity id: a uuid4 as 32 lower-case hex characters."""
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


class Versioned:
    """The seed's versioned fields; subclasses set `__entity__` (the event/channel name)."""

    __entity__: ClassVar[str]
    # Columns whose change alone is bookkeeping, not a new version (e.g. a session's last use).
    __unversioned__: ClassVar[frozenset[str]] = frozenset()

    entity_id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_entity_id)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    previous_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    changed_by_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    changed_on: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # UPDATE ... WHERE version = <read version>: a concurrent change of the same row makes
        # the loser's flush fail (StaleDataError) instead of silently overwriting it. This is
        # what makes single-use codes single-use under parallel requests.
        return {"version_id_col": cls.__table__.c.version, "version_id_generator": False}  # type: ignore[attr-defined]

    @property
    def owner_id(self) -> str:
        """The person whose private channel receives this entity's events."""
        raise NotImplementedError

    def public_dict(self) -> dict[str, Any]:
        """The entity's public form for events: never secrets or tokens."""
        raise NotImplementedError


AUDIT_TABLES: dict[str, Table] = {}


def audit_table_for(model: type[Base]) -> Table:
    """Declare `<table>_audit` with the model's columns, no constraints, plus its own key."""
    table = model.__table__
    assert isinstance(table, Table)
    columns = [Column("audit_id", BigIntPK, primary_key=True, autoincrement=True)]
    for column in table.columns:
        columns.append(Column(column.name, column.type, nullable=True))
    audit = Table(
        f"{table.name}_audit",
        Base.metadata,
        *columns,
        Column("audited_on", UTCDateTime(), nullable=False, default=utcnow),
    )
    AUDIT_TABLES[table.name] = audit
    return audit


def _versioned_changes(target: Versioned) -> bool:
    from sqlalchemy import inspect

    state = inspect(target)
    for attr in state.mapper.column_attrs:
        if attr.key in target.__unversioned__ or attr.key in _BOOKKEEPING:
            continue
        if state.attrs[attr.key].history.has_changes():
            return True
    return False


_BOOKKEEPING = frozenset({"version", "previous_version", "changed_on"})


@event.listens_for(Versioned, "before_insert", propagate=True)
def _before_insert(mapper: Mapper[Any], connection: Connection, target: Versioned) -> None:
    target.version = target.version or 1
    target.changed_on = utcnow()


@event.listens_for(Versioned, "before_update", propagate=True)
def _before_update(mapper: Mapper[Any], connection: Connection, target: Versioned) -> None:
    if not _versioned_changes(target):
        target._new_version = False  # type: ignore[attr-defined]
        return
    table = mapper.local_table
    assert isinstance(table, Table)
    audit = AUDIT_TABLES[table.name]
    names = [c.name for c in table.columns]
    connection.execute(
        insert(audit).from_select(
            names, select(*[table.c[n] for n in names]).where(table.c.entity_id == target.entity_id)
        )
    )
    from sqlalchemy import inspect

    history = inspect(target).attrs["version"].history
    current = history.deleted[0] if history.deleted else target.version
    target.previous_version = current
    target.version = current + 1
    target.changed_on = utcnow()
    target._new_version = True  # type: ignore[attr-defined]


@event.listens_for(Versioned, "after_insert", propagate=True)
def _after_insert(mapper: Mapper[Any], connection: Connection, target: Versioned) -> None:
    from quart_template.events.outbox import record_entity_event

    record_entity_event(connection, target, "create")


@event.listens_for(Versioned, "after_update", propagate=True)
def _after_update(mapper: Mapper[Any], connection: Connection, target: Versioned) -> None:
    if getattr(target, "_new_version", False):
        from quart_template.events.outbox import record_entity_event

        record_entity_event(connection, target, "update")


def make_engine(url: str) -> AsyncEngine:
    """The one engine: SQLite with WAL and foreign keys, MySQL with pre-ping, recycle, utf8mb4."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})

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

        return engine
    if url.startswith("mysql"):
        return create_async_engine(
            url, pool_pre_ping=True, pool_recycle=1800, pool_size=10, max_overflow=20
        )
    return create_async_engine(url, pool_pre_ping=True)


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


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


class CommitSignal:
    """Wakes the outbox relay when a transaction that wrote outbox rows commits."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[], None]] = []

    def fire(self) -> None:
        for listener in self.listeners:
            listener()


def make_session_factory(
    engine: AsyncEngine, *, destinations: tuple[str, ...] = (), signal: CommitSignal | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects after commit and know where events go."""
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        info={"event_destinations": destinations, "commit_signal": signal or CommitSignal()},
    )


def mark_outbox_written(session: Session) -> None:
    session.info["outbox_written"] = True


@event.listens_for(Session, "after_commit")
def _wake_relay(session: Session) -> None:
    if session.info.pop("outbox_written", False):
        signal = session.info.get("commit_signal")
        if signal is not None:
            signal.fire()


@event.listens_for(Session, "after_rollback")
def _forget_outbox(session: Session) -> None:
    session.info.pop("outbox_written", None)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work commits as one transaction, or rolls back on error."""
    async with factory() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> None:
    """Raise when the database cannot answer a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
