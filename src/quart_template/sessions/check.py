"""The token check every authenticated request makes: from the cache when it can, else with
one read-only query, and at most about once a minute per session a write of its last use."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from quart_template.accounts.models import Person
from quart_template.db import utcnow
from quart_template.replica import read_lagging
from quart_template.runtime import Runtime
from quart_template.sessions.cache import Entry
from quart_template.sessions.caller import Caller, PersonSummary, SessionSummary
from quart_template.sessions.models import AuthSession
from quart_template.sessions.service import hash_session_id, session_id_of, touch_only
from quart_template.settings import Settings


async def check_token(rt: Runtime, token: str) -> Caller | None:
    """The caller behind `token`, or None if it is forged, expired or revoked."""
    cache = rt.session_cache

    async def look_up() -> tuple[Caller, datetime] | None:
        async def read(engine: AsyncEngine) -> tuple[Caller, datetime] | None:
            # Read-only: checking a token must not queue behind (or block) the writers.
            async with engine.connect() as conn:
                return await authenticate_token(conn, settings=rt.settings, token=token)

        # A replica may not have the session yet (just signed in): a miss asks the primary.
        return await read_lagging(rt.engine, rt.replica, read, missed=lambda f: f is None)

    entry = await cache.load(cache.key(token), look_up)
    if entry is None:
        return None
    if entry.due_for_touch(time.time()):
        await _touch(rt, entry)
    return entry.caller


async def _touch(rt: Runtime, entry: Entry) -> None:
    """Record the use; noted in the entry first, so concurrent requests do not write too."""
    now = utcnow()
    entry.last_used = now.timestamp()
    async with rt.db() as db, db.begin():
        await touch_only(db, session_id=entry.caller.session.entity_id, when=now)


# What a caller is made of: one row of the session joined with its person, columns only (no
# ORM objects to build and track on the hot path).
_CALLER_ROW = select(
    AuthSession.entity_id,
    AuthSession.person_id,
    AuthSession.expires_at,
    AuthSession.last_used_at,
    Person.email,
    Person.first_name,
    Person.last_name,
    Person.verified,
    Person.verified_on,
    Person.mfa_enabled,
).join(Person, Person.entity_id == AuthSession.person_id)


async def authenticate_token(
    conn: AsyncConnection, *, settings: Settings, token: str
) -> tuple[Caller, datetime] | None:
    """The caller behind a token and the session's last recorded use, or None if the token
    is forged, expired or revoked. One read-only statement; see `touch_only` for the write."""
    session_id = session_id_of(settings, token)
    if session_id is None:
        return None
    result = await conn.execute(
        _CALLER_ROW.where(
            AuthSession.token_hash == hash_session_id(session_id),
            AuthSession.active.is_(True),
            AuthSession.expires_at > utcnow(),
            Person.active.is_(True),
        )
    )
    row = result.first()
    if row is None:
        return None
    person = PersonSummary(
        entity_id=row.person_id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        verified=row.verified,
        verified_on=row.verified_on,
        mfa_enabled=row.mfa_enabled,
    )
    session = SessionSummary(
        entity_id=row.entity_id, person_id=row.person_id, expires_at=row.expires_at
    )
    return Caller(person=person, session=session), row.last_used_at
