"""What housekeeping deletes, as rules. Each rule finds the keys of its next batch with a read
that takes no locks, then deletes those rows by key in one short write transaction, checking the
condition again there. Selecting keys first, then deleting by list, works on SQLite and on
MariaDB alike (MariaDB refuses LIMIT inside an IN subquery)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection


class Rule(ABC):
    """One kind of row past its retention; `tables` names what its counts are about."""

    tables: tuple[str, ...]

    @abstractmethod
    async def find(self, conn: AsyncConnection, size: int) -> list[Any]:
        """The keys of the next batch (at most `size`); empty once the rule is done."""

    @abstractmethod
    async def delete(self, conn: AsyncConnection, keys: list[Any]) -> dict[str, int]:
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
        finders: Sequence[ColumnElement[bool]],
        dependents: Sequence[tuple[Table, Column[Any]]] = (),
    ) -> None:
        self.tables = (table.name, *(dependent.name for dependent, _ in dependents))
        self._table = table
        self._key = key
        self._pending = list(finders)
        self._gone = or_(*finders)
        self._dependents = dependents

    async def find(self, conn: AsyncConnection, size: int) -> list[Any]:
        while self._pending:
            query = select(self._key).where(self._pending[0]).limit(size)
            keys = list((await conn.execute(query)).scalars())
            if len(keys) < size:
                self._pending.pop(0)  # this condition has no more rows after this batch
            if keys:
                return keys
        return []

    async def delete(self, conn: AsyncConnection, keys: list[Any]) -> dict[str, int]:
        result = await conn.execute(delete(self._table).where(self._key.in_(keys), self._gone))
        counts = {self._table.name: result.rowcount}
        if result.rowcount == 0:
            self._pending.clear()  # found but no longer deletable: stop rather than loop
        for dependent, column in self._dependents:
            # Only the rows of keys whose row is now gone (all of them, unless one changed).
            parent = select(self._key).where(self._key == column).exists()
            result = await conn.execute(delete(dependent).where(column.in_(keys), ~parent))
            counts[dependent.name] = result.rowcount
        return counts

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

    async def find(self, conn: AsyncConnection, size: int) -> list[Any]:
        if self._done:
            return []
        query = select(self._key, self._age).order_by(self._key).limit(size)
        if self._after is not None:
            query = query.where(self._key > self._after)
        rows = (await conn.execute(query)).all()
        # Keys are handed out in creation order (give or take concurrent transactions): past
        # the first young row, every later one is young too, or waits for the next run.
        if len(rows) < size or any(age >= self._cutoff for _, age in rows):
            self._done = True
        if rows:
            self._after = rows[-1][0]
        return [key for key, _ in rows]

    async def delete(self, conn: AsyncConnection, keys: list[Any]) -> dict[str, int]:
        result = await conn.execute(delete(self._table).where(self._key.in_(keys), self._condition))
        return {self._table.name: result.rowcount}

    async def count(self, conn: AsyncConnection) -> dict[str, int]:
        return {self._table.name: await _count(conn, self._table, self._condition)}


async def _count(conn: AsyncConnection, table: Table, condition: ColumnElement[bool]) -> int:
    found = await conn.scalar(select(func.count()).select_from(table).where(condition))
    return int(found or 0)
