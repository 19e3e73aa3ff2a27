"""Claiming outbox rows for one relay and recording what happened to them.

A claim is a short transaction: lock due rows with `FOR UPDATE SKIP LOCKED` (MariaDB/MySQL;
SQLite has one writer), then lease them by pushing `next_attempt_at` to the lease's end, and
commit. Delivery happens outside any transaction, so no row lock is held across the network;
the lease keeps other relays away until the results are written (or it expires, when a relay
died mid-delivery). A relay only takes an entity's row when no earlier row of that entity and
destination is still pending: a row leased by relay A keeps relay B off the entity's later rows.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from quart_template.db import Session, utcnow
from quart_template.events.outbox import (
    DEAD,
    EMAIL,
    PENDING,
    SENT,
    SPENT_EMAIL,
    Claimed,
    OutboxMessage,
)

P = ParamSpec("P")
T = TypeVar("T")

LEASE = timedelta(seconds=120)
CONFLICT_RETRIES = 5
MYSQL_CONFLICTS = frozenset({1205, 1213})  # lock wait timeout, deadlock
MAX_BACKOFF_SECONDS = 300.0

_table = cast(Table, OutboxMessage.__table__)
# What a claim reads of a row, in `Claimed`'s field order.
_CLAIMED = tuple(_table.c[column.name] for column in fields(Claimed))


def backoff(attempts: int) -> timedelta:
    """Capped exponential backoff: 1 s, 2 s, 4 s, ... up to 5 minutes."""
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempts - 1)))


def claim_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for claims; READ COMMITTED on MySQL so a claim locks no gaps and no rows
    it rejected (API transactions keep inserting outbox rows meanwhile)."""
    if engine.dialect.name == "mysql":
        engine = engine.execution_options(isolation_level="READ COMMITTED")
    return async_sessionmaker(engine, class_=Session, expire_on_commit=False)


@dataclass
class Claim:
    """Rows leased to this relay until `lease`, in id order."""

    destination: str
    lease: datetime
    rows: list[Claimed] = field(default_factory=list)


def _retry_conflicts(
    work: Callable[P, Awaitable[T]],
) -> Callable[P, Awaitable[T]]:
    """MySQL may still pick a claim or a settle as a deadlock victim: run it again."""

    @wraps(work)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(CONFLICT_RETRIES):
            try:
                return await work(*args, **kwargs)
            except OperationalError as exc:
                code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
                if code not in MYSQL_CONFLICTS or attempt == CONFLICT_RETRIES - 1:
                    raise
                await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # noqa: S311
        raise AssertionError("unreachable")

    return wrapper


@_retry_conflicts
async def claim_rows(db: async_sessionmaker[AsyncSession], destination: str, limit: int) -> Claim:
    """Lease up to `limit` due rows: the first pending row of each free entity, then the
    entity's later pending rows behind it (nobody else can hold those)."""
    now = utcnow()
    lease = now + LEASE
    claim = Claim(destination=destination, lease=lease)
    async with db() as session, session.begin():
        heads = [
            Claimed(*row) for row in await session.execute(_heads(destination, limit), {"now": now})
        ]
        if not heads:
            return claim
        rows = heads + await _followers(session, destination, heads, limit - len(heads))
        ids = [row.id for row in rows]
        await session.execute(
            update(_table).where(_table.c.id.in_(ids)).values(next_attempt_at=lease)
        )
    claim.rows = sorted(rows, key=lambda row: row.id)
    return claim


@functools.lru_cache(maxsize=64)
def _heads(destination: str, limit: int) -> Select[Any]:
    """The due first pending row of each entity without an earlier pending one, up to `limit`:
    built once per destination and size (building it, aliased NOT EXISTS and all, costs more
    than running it on an idle outbox), due as of the `now` parameter."""
    earlier = aliased(OutboxMessage)
    blocked = (
        select(earlier.id)
        .where(
            earlier.destination == OutboxMessage.destination,
            earlier.entity_id == OutboxMessage.entity_id,
            earlier.status == PENDING,
            earlier.id < OutboxMessage.id,
        )
        # Without fresh statistics MariaDB may pick the (destination, status) index here
        # and scan every pending row per candidate: quadratic on a backlog.
        .with_hint(earlier, "FORCE INDEX (ix_outbox_entity)", "mysql")
        .exists()
    )
    return (
        select(*_CLAIMED)
        .where(
            OutboxMessage.destination == destination,
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at <= bindparam("now"),
            ~blocked,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def _followers(
    session: AsyncSession, destination: str, heads: list[Claimed], limit: int
) -> list[Claimed]:
    """The heads' later rows, each entity's run cut at the first row we could not lock: a
    lease never waits for a lock, so claims from several relays cannot deadlock."""
    entity_ids = {row.entity_id for row in heads if row.entity_id}
    if limit <= 0 or not entity_ids:
        return []
    # The heads come back too (each is its entity's first pending row) and are dropped here:
    # cheaper than sending their ids along as a NOT IN list of up to a batch's size.
    head_ids = {row.id for row in heads}
    found = await session.execute(
        select(OutboxMessage.id, OutboxMessage.entity_id)
        .where(
            OutboxMessage.destination == destination,
            OutboxMessage.status == PENDING,
            OutboxMessage.entity_id.in_(entity_ids),
        )
        .order_by(OutboxMessage.id)
        .limit(limit + len(heads))
    )
    candidates = [row for row in found if row.id not in head_ids][:limit]
    if not candidates:
        return []
    rows = await session.execute(
        select(*_CLAIMED)
        .where(_table.c.id.in_([c.id for c in candidates]))
        .with_for_update(skip_locked=True)
    )
    locked = {row.id: Claimed(*row) for row in rows}
    taken, cut = [], set()
    for candidate in candidates:
        row = locked.get(candidate.id)
        if row is None or candidate.entity_id in cut:
            cut.add(candidate.entity_id)
            continue
        taken.append(row)
    return taken


@dataclass
class Outcome:
    """What delivery did with a claim: sent, failed (retry later), dead, or untouched."""

    sent: list[Claimed] = field(default_factory=list)
    failed: list[tuple[Claimed, BaseException]] = field(default_factory=list)
    dead: list[tuple[Claimed, BaseException]] = field(default_factory=list)
    released: list[Claimed] = field(default_factory=list)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


@_retry_conflicts
async def settle(db: async_sessionmaker[AsyncSession], claim: Claim, outcome: Outcome) -> None:
    """Write the results; a row whose lease another relay has taken over is left to it.
    A delivered or dead email keeps no payload: its links would outlive the message."""
    now = utcnow()
    mine = (_table.c.id == bindparam("b_id"), _table.c.status == PENDING)
    leased = _table.c.next_attempt_at == claim.lease
    spent = {"payload": SPENT_EMAIL} if claim.destination == EMAIL else {}
    async with db() as session, session.begin():
        if outcome.sent:
            await session.execute(
                update(_table)
                .where(_table.c.id.in_([row.id for row in outcome.sent]))
                .where(_table.c.status == PENDING, leased)
                .values(status=SENT, sent_at=now, **spent)
            )
        if outcome.released:
            await session.execute(
                update(_table)
                .where(_table.c.id.in_([row.id for row in outcome.released]))
                .where(_table.c.status == PENDING, leased)
                .values(next_attempt_at=now)
            )
        failures = _failure_params(outcome.failed, now)
        if failures:
            await session.execute(
                update(_table)
                .where(*mine, leased)
                .values(
                    attempts=bindparam("b_attempts"),
                    next_attempt_at=bindparam("b_next"),
                    last_error=bindparam("b_error"),
                ),
                failures,
            )
        if outcome.dead:
            await session.execute(
                update(_table)
                .where(*mine, leased)
                .values(status=DEAD, last_error=bindparam("b_error"), **spent),
                [{"b_id": row.id, "b_error": describe(exc)} for row, exc in outcome.dead],
            )


def _failure_params(
    failed: Sequence[tuple[Claimed, BaseException]], now: datetime
) -> list[dict[str, object]]:
    return [
        {
            "b_id": row.id,
            "b_attempts": row.attempts + 1,
            "b_next": now + backoff(row.attempts + 1),
            "b_error": describe(exc),
        }
        for row, exc in failed
    ]
