"""The Flask Template schema, read only: every table insert-only versioned, a save adds a
version (the earlier ones get `latest=0`), a delete adds one with `active=0`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from quart_template.legacy.schema import (
    FIRST_VERSION,
    SOCIAL_PROVIDERS,
    login_method,
    otp_method,
    person,
    recovery_code,
)

Row = dict[str, Any]


@dataclass(frozen=True)
class Entity:
    """All versions of one entity, oldest first; the last one is the current state."""

    entity_id: str
    versions: list[Row]

    @property
    def current(self) -> Row:
        return self.versions[-1]

    @property
    def deleted(self) -> bool:
        return not self.current["active"]


def async_url(url: str) -> str:
    """The URL with an async driver (`mysql://` and `sqlite:///` are accepted as typed)."""
    parsed = make_url(url)
    drivers = {"mysql": "mysql+aiomysql", "mariadb": "mysql+aiomysql", "sqlite": "sqlite+aiosqlite"}
    backend = parsed.get_backend_name()
    if parsed.get_driver_name() in {"aiomysql", "aiosqlite", "asyncmy"}:
        return url
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: MySQL, MariaDB or SQLite")
    return parsed.set(drivername=drivers[backend]).render_as_string(hide_password=False)


def open_source(url: str) -> AsyncEngine:
    """An engine on the old database; it is only ever read."""
    return create_async_engine(async_url(url), pool_pre_ping=True)


def utc(value: datetime | None) -> datetime | None:
    """Flask Template stored naive UTC timestamps."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ordered(versions: Sequence[Row]) -> list[Row]:
    """The versions oldest first: along the `previous_version` chain, with the current one
    (`latest=1`, or the most recently changed) last whatever the chain says."""
    by_change = sorted(versions, key=lambda r: (r["changed_on"] or datetime.min, r["version"]))
    following = {row["previous_version"]: row for row in by_change}
    chain: list[Row] = []
    step = following.get(FIRST_VERSION)
    while step is not None and step not in chain:
        chain.append(step)
        step = following.get(step["version"])
    rest = [row for row in by_change if row not in chain]
    result = chain + rest
    latest = [row for row in by_change if row["latest"]] or by_change
    current = latest[-1]
    result.remove(current)
    return [*result, current]


def group(rows: Sequence[Row]) -> list[Entity]:
    """Rows of many entities as entities (in order of first appearance)."""
    versions: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        versions[row["entity_id"]].append(row)
    return [Entity(entity_id, ordered(found)) for entity_id, found in versions.items()]


async def _rows(conn: AsyncConnection, query: Any) -> list[Row]:
    result = await conn.execute(query)
    return [dict(row._mapping) for row in result]


async def person_ids_after(conn: AsyncConnection, *, after: str, limit: int) -> list[str]:
    """The next `limit` person entity ids in order: the batches are keyset pages."""
    query = (
        select(person.c.entity_id)
        .where(person.c.entity_id > after)
        .group_by(person.c.entity_id)
        .order_by(person.c.entity_id)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def count_people(conn: AsyncConnection) -> int:
    """How many people (entities, any state) the old database has: for the progress line."""
    query = select(func.count(func.distinct(person.c.entity_id)))
    return int((await conn.execute(query)).scalar_one())


async def current_people(conn: AsyncConnection) -> list[Row]:
    """The active current people (id, email, verified, changed_on): what duplicates are
    decided on, before any batch."""
    columns = (person.c.entity_id, person.c.email, person.c.verified, person.c.changed_on)
    query = select(*columns).where(person.c.latest == 1, person.c.active == 1)
    return await _rows(conn, query)


async def current_social_methods(conn: AsyncConnection) -> list[Row]:
    """The active current provider methods (id, person, provider, sub, changed_on)."""
    c = login_method.c
    query = select(c.entity_id, c.person_id, c.name, c.sub, c.changed_on).where(
        c.latest == 1, c.active == 1, c.name.in_(SOCIAL_PROVIDERS)
    )
    return await _rows(conn, query)


@dataclass(frozen=True)
class Batch:
    """Some people and everything of theirs, each as entities."""

    people: list[Entity]
    login_methods: list[Entity]
    otp_methods: list[Entity]
    recovery_codes: list[Entity]


async def read_batch(conn: AsyncConnection, person_ids: Sequence[str]) -> Batch:
    """Every version of these people and of their methods and codes."""
    people = await _rows(conn, select(person).where(person.c.entity_id.in_(person_ids)))
    methods = await _rows(
        conn, select(login_method).where(login_method.c.person_id.in_(person_ids))
    )
    otps = await _rows(conn, select(otp_method).where(otp_method.c.person_id.in_(person_ids)))
    otp_ids = sorted({row["entity_id"] for row in otps})
    codes = (
        await _rows(conn, select(recovery_code).where(recovery_code.c.otp_method_id.in_(otp_ids)))
        if otp_ids
        else []
    )
    return Batch(group(people), group(methods), group(otps), group(codes))


async def orphans(conn: AsyncConnection) -> list[tuple[str, str, str]]:
    """(table, entity id, reason) of rows no batch reaches: their owner is not in the database."""
    found: list[tuple[str, str, str]] = []
    people = select(person.c.entity_id)
    for table in (login_method, otp_method):
        owner = table.c.person_id
        query = select(table.c.entity_id).where(or_(owner.is_(None), owner.not_in(people)))
        query = query.distinct()
        for entity_id in (await conn.execute(query)).scalars():
            found.append((table.name, entity_id, "its person is not in the old database"))
    otps = select(otp_method.c.entity_id).where(otp_method.c.person_id.in_(people))
    query = (
        select(recovery_code.c.entity_id)
        .where(
            or_(recovery_code.c.otp_method_id.is_(None), recovery_code.c.otp_method_id.not_in(otps))
        )
        .distinct()
    )
    for entity_id in (await conn.execute(query)).scalars():
        found.append(("recovery_code", entity_id, "its OTP method is not in the old database"))
    return found
