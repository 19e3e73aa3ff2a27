"""What housekeeping deletes, as rules. Each rule finds where its next batch ends with a read
that takes no locks (one row: the batch's last, in index order), then deletes the rows up to
there in one short write transaction, as one range of that index. The database picks
the rows: no list of keys travels through the event loop, which on MariaDB cost some 23 ms of
the loop's CPU per 1,000 rows (reading them, then sending them back as an IN list) and showed
as the API's p99 during a purge. Works on SQLite and on MariaDB alike (MariaDB refuses LIMIT
inside an IN subquery, and SQLite's DELETE has no LIMIT)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Row,
    Table,
    and_,
    delete,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class Batch:
    """The rows of one batch, as a condition on its table."""

    rows: ColumnElement[bool]


@dataclass(frozen=True)
class Finder:
    """A condition for rows past their retention, walked in key order; or, made by `before`,
    walked in the order of a time column, then the key."""

    condition: ColumnElement[bool]
    along: Column[Any] | None = None

    @classmethod
    def before(cls, column: Column[datetime], cutoff: datetime) -> Finder:
        """Rows whose `column` is before `cutoff`, walked along it (an index on exactly the
        column and the key answers both the order and the batch). Every row before one that
        qualifies qualifies too, so a batch is just the rows up to its last, whatever changed
        since it was found."""
        return cls(column < cutoff, along=column)


class Rule(ABC):
    """One kind of row past its retention; `tables` names what its counts are about."""

    tables: tuple[str, ...]

    @abstractmethod
    async def find(self, conn: AsyncConnection, size: int) -> Batch | None:
        """The next batch (at most `size` rows); None once the rule is done."""

    @abstractmethod
    async def delete(self, conn: AsyncConnection, batch: Batch) -> dict[str, int]:
        """Delete the batch's rows that still qualify; rows deleted per table."""

    @abstractmethod
    async def count(self, conn: AsyncConnection) -> dict[str, int]:
        """How many rows a run would delete now, per table (a dry run)."""


class Matching(Rule):
    """Rows found by conditions that an index answers (tried in turn), with the rows of other
    tables that name them (`dependents`: table and the column holding this table's key)."""

    def __init__(
        self,
        table: Table,
        key: Column[Any],
        finders: Sequence[Finder],
        dependents: Sequence[tuple[Table, Column[Any]]] = (),
    ) -> None:
        self.tables = (table.name, *(dependent.name for dependent, _ in dependents))
        self._table = table
        self._key = key
        self._pending = list(finders)
        self._gone = or_(*(finder.condition for finder in finders))
        self._dependents = dependents

    async def find(self, conn: AsyncConnection, size: int) -> Batch | None:
        while self._pending:
            finder = self._pending[0]
            order = [self._key] if finder.along is None else [finder.along, self._key]
            last = await _nth(conn, select(*order).where(finder.condition), order, size)
            if last is not None:
                if finder.along is None:
                    return Batch(finder.condition & (self._key <= last[0]))
                return Batch(_up_to(conn.dialect.name, order, last))
            self._pending.pop(0)  # fewer than `size` rows left: this batch is the last
            found = select(self._key).where(finder.condition).limit(1)
            if (await conn.execute(found)).first() is not None:
                return Batch(finder.condition)
        return None

    async def delete(self, conn: AsyncConnection, batch: Batch) -> dict[str, int]:
        counts: dict[str, int] = {}
        for dependent, column in self._dependents:  # first, while the batch's rows still exist
            if conn.dialect.name == "sqlite":
                doomed = column.in_(select(self._key).where(batch.rows))
                statement = delete(dependent).where(doomed)
            else:
                # A join: MariaDB runs a DELETE's IN (subquery) as a scan of the whole table.
                statement = delete(dependent).where(column == self._key, batch.rows)
            result = await conn.execute(statement)
            counts[dependent.name] = result.rowcount
        result = await conn.execute(delete(self._table).where(batch.rows))
        if result.rowcount == 0:
            self._pending.clear()  # found but no longer deletable: stop rather than loop
        return {self._table.name: result.rowcount, **counts}

    async def count(self, conn: AsyncConnection) -> dict[str, int]:
        gone_keys = select(self._key).where(self._gone)
        counts = {self._table.name: await _count(conn, self._table, self._gone)}
        for dependent, column in self._dependents:
            counts[dependent.name] = await _count(conn, dependent, column.in_(gone_keys))
        return counts


class Keyset(Rule):
    """Rows of an append-only table whose key grows with `age` (its creation time): walked in
    key order, stopping at the first batch that reaches rows younger than `cutoff`. Rows kept
    for another reason (a dead outbox row) are read at most once per run, and the young end
    of the table never."""

    def __init__(
        self,
        table: Table,
        key: Column[Any],
        age: Column[datetime],
        cutoff: datetime,
        condition: ColumnElement[bool],
    ) -> None:
        self.tables = (table.name,)
        self._table = table
        self._key = key
        self._age = age
        self._cutoff = cutoff
        self._condition = condition
        self._after: Any = None
        self._done = False

    async def find(self, conn: AsyncConnection, size: int) -> Batch | None:
        if self._done:
            return None
        start = true() if self._after is None else self._key > self._after
        last = await _nth(conn, select(self._key, self._age).where(start), [self._key], size)
        if last is None:  # fewer than `size` rows left in the table
            self._done = True
            return Batch(start & self._condition)
        key, age = tuple(last)
        # Keys are handed out in creation order (give or take concurrent transactions): past
        # the first young row, every later one is young too, or waits for the next run.
        if age >= self._cutoff:
            self._done = True
        self._after = key
        return Batch(start & (self._key <= key) & self._condition)

    async def delete(self, conn: AsyncConnection, batch: Batch) -> dict[str, int]:
        result = await conn.execute(delete(self._table).where(batch.rows))
        return {self._table.name: result.rowcount}

    async def count(self, conn: AsyncConnection) -> dict[str, int]:
        return {self._table.name: await _count(conn, self._table, self._condition)}


async def _nth(
    conn: AsyncConnection, query: Any, order: Sequence[Column[Any]], n: int
) -> Row[Any] | None:
    """The `n`th row of `query` in `order` (the last of a full batch), or None."""
    return (await conn.execute(query.order_by(*order).offset(n - 1).limit(1))).first()


def _up_to(dialect: str, order: Sequence[Column[Any]], last: Row[Any]) -> ColumnElement[bool]:
    """Rows at or before `last` in `order`, spelled so that the index on `order` answers it as
    one range: a row value on SQLite (which otherwise walks every row tied with `last`'s first
    column: quadratic when a purge meets many equal timestamps), an OR of ranges on MariaDB
    (whose optimizer takes a row value for a table scan)."""
    values: list[Any] = list(last)
    if dialect == "sqlite":
        return tuple_(*order) <= tuple(values)
    condition: ColumnElement[bool] = order[-1] <= values[-1]
    for column, value in zip(reversed(order[:-1]), reversed(values[:-1]), strict=True):
        condition = or_(column < value, and_(column == value, condition))
    return condition


async def _count(conn: AsyncConnection, table: Table, condition: ColumnElement[bool]) -> int:
    found = await conn.scalar(select(func.count()).select_from(table).where(condition))
    return int(found or 0)
