"""The versioned-entity base: every entity keeps its current row in its own table and each
earlier version in `<table>_audit`.

The copy is made by the database itself (INSERT ... SELECT) just before the UPDATE, inside the
same transaction, so no code path can change an entity without history. Other layers hook into
the same mapper events (the outbox records entity events from `after_insert`/`after_update`);
this module knows nothing of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Integer,
    String,
    Table,
    case,
    event,
    insert,
    inspect,
    literal,
    null,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, declared_attr, mapped_column

from quart_template.db import Base, BigIntPK, UTCDateTime, new_entity_id, utcnow

# Set on a flushed entity: whether its last UPDATE made a new version (not bookkeeping only).
NEW_VERSION_FLAG = "_new_version"
# What an audit copy holds instead of a secret column's value (NULL stays NULL).
REDACTED = "<redacted>"


class Versioned:
    """The versioned fields of Flask Template's entities; subclasses set `__entity__` (the
    event and channel name)."""

    __entity__: ClassVar[str]
    # Columns whose change alone is bookkeeping, not a new version (e.g. a session's last use).
    __unversioned__: ClassVar[frozenset[str]] = frozenset()
    # Secret columns (password hash, OTP secret, provider tokens): history keeps only whether
    # one was set, so an audit table is never a second copy of the secrets.
    __redacted__: ClassVar[frozenset[str]] = frozenset()

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
    """Declare `<table>_audit` with the model's columns, no constraints, plus its own key and
    an index on `entity_id`."""
    table = model.__table__
    assert isinstance(table, Table)
    redacted: frozenset[str] = getattr(model, "__redacted__", frozenset())
    unknown = redacted - set(table.columns.keys())
    assert not unknown, f"{table.name}.__redacted__ names no column: {sorted(unknown)}"
    columns = [Column("audit_id", BigIntPK, primary_key=True, autoincrement=True)]
    for column in table.columns:
        # Indexed by entity: one entity's history is found (and purged with it) by key.
        by_entity = column.name == "entity_id"
        columns.append(Column(column.name, column.type, nullable=True, index=by_entity))
    audit = Table(
        f"{table.name}_audit",
        Base.metadata,
        *columns,
        Column("audited_on", UTCDateTime(), nullable=False, default=utcnow),
    )
    AUDIT_TABLES[table.name] = audit
    return audit


_BOOKKEEPING = frozenset({"version", "previous_version", "changed_on"})


def made_new_version(target: Versioned) -> bool:
    """Whether the UPDATE just flushed for `target` made a new version."""
    return bool(getattr(target, NEW_VERSION_FLAG, False))


def _versioned_changes(target: Versioned) -> bool:
    state = inspect(target)
    for attr in state.mapper.column_attrs:
        if attr.key in target.__unversioned__ or attr.key in _BOOKKEEPING:
            continue
        if state.attrs[attr.key].history.has_changes():
            return True
    return False


def _audit_value(column: Column[Any], redacted: bool) -> ColumnElement[Any]:
    """What the audit copy takes from `column`: the value, or for a secret only the marker."""
    if not redacted:
        return column
    return case((column.is_(None), null()), else_=literal(REDACTED)).label(column.name)


@event.listens_for(Versioned, "before_insert", propagate=True)
def _before_insert(mapper: Mapper[Any], connection: Connection, target: Versioned) -> None:
    target.version = target.version or 1
    target.changed_on = utcnow()


@event.listens_for(Versioned, "before_update", propagate=True)
def _before_update(mapper: Mapper[Any], connection: Connection, target: Versioned) -> None:
    if not _versioned_changes(target):
        setattr(target, NEW_VERSION_FLAG, False)
        return
    table = mapper.local_table
    assert isinstance(table, Table)
    audit = AUDIT_TABLES[table.name]
    names = [c.name for c in table.columns]
    copied = [_audit_value(table.c[n], n in target.__redacted__) for n in names]
    connection.execute(
        insert(audit).from_select(
            names, select(*copied).where(table.c.entity_id == target.entity_id)
        )
    )
    history = inspect(target).attrs["version"].history
    current = history.deleted[0] if history.deleted else target.version
    target.previous_version = current
    target.version = current + 1
    target.changed_on = utcnow()
    setattr(target, NEW_VERSION_FLAG, True)
