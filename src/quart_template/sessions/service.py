"""Issue, check and revoke access tokens. A token is a signed random session id; the row is
keyed by the id's SHA-256, so the database alone can neither mint nor replay a token."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from quart_template.accounts.models import Person
from quart_template.db import utcnow
from quart_template.replica import read_lagging
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record
from quart_template.sessions.cache import LAST_USED_GRANULARITY
from quart_template.sessions.caller import SessionSummary
from quart_template.sessions.invalidation import BOOKKEEPING
from quart_template.sessions.models import AuthSession
from quart_template.settings import Settings
from quart_template.signing import random_id, read_signed


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    session: AuthSession | SessionSummary

    @property
    def expires_in(self) -> int:
        """`expires_in` as Flask Template's clients read it: the expiry as a Unix timestamp."""
        return int(self.session.expires_at.timestamp())


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=settings.security_password_salt)


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def issue_session(
    db: AsyncSession,
    *,
    settings: Settings,
    person: Person,
    client: ClientInfo,
) -> IssuedToken:
    """A fresh session and its token; every login gets a new one."""
    session_id = secrets.token_hex(32)
    now = utcnow()
    row = AuthSession(
        token_hash=hash_session_id(session_id),
        person_id=person.entity_id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.access_token_expire),
        last_used_at=now,
        proved_at=now,  # a sign-in is a proof
        ip=client.ip,
        user_agent=(client.user_agent or "")[:255] or None,
        changed_by_id=person.entity_id,
    )
    db.add(row)
    await db.flush()
    return IssuedToken(access_token=_serializer(settings).dumps(session_id), session=row)


def session_id_of(settings: Settings, token: str) -> str | None:
    """The random session id inside a genuine, unexpired token; None for anything else."""
    return random_id(
        read_signed(_serializer(settings), token, max_age=settings.access_token_expire)
    )


async def revoke_session(db: AsyncSession, *, session: AuthSession, by: str | None) -> None:
    """End one session (logout)."""
    session.active = False
    session.revoked_at = utcnow()
    session.changed_by_id = by
    await db.flush()


async def find_session(
    db: AsyncSession, *, person_id: str, entity_id: str, for_update: bool = False
) -> AuthSession | None:
    """One of the person's sessions that still works; None for anybody else's. `for_update`
    locks the row, so concurrent revocations queue instead of deadlocking on MySQL."""
    query = select(AuthSession).where(
        AuthSession.entity_id == entity_id,
        AuthSession.person_id == person_id,
        AuthSession.active.is_(True),
        AuthSession.expires_at > utcnow(),
    )
    result = await db.execute(query.with_for_update() if for_update else query)
    return result.scalar_one_or_none()


async def end_session(
    rt: Runtime, *, person_id: str, session_id: str, client: ClientInfo, event: str
) -> bool:
    """Revoke one of the person's own sessions (`event`: "logout", or "session_revoked" from
    the session list); False when there is no such live session."""
    try:
        async with rt.db() as db, db.begin():
            row = await find_session(db, person_id=person_id, entity_id=session_id, for_update=True)
            if row is None:
                return False
            await revoke_session(db, session=row, by=person_id)
            record(db, event, person_id=person_id, client=client)
    except StaleDataError:
        return False  # revoked by a concurrent request
    return True


async def sessions_of(rt: Runtime, *, person_id: str) -> list[AuthSession]:
    """The person's live sessions, newest first (from the replica when there is one)."""

    async def read(engine: AsyncEngine) -> list[AuthSession]:
        async with rt.db(bind=engine) as db, db.begin():
            return await list_active_sessions(db, person_id=person_id)

    return await read_lagging(rt.engine, rt.replica, read)


async def list_active_sessions(db: AsyncSession, *, person_id: str) -> list[AuthSession]:
    """The person's sessions that still work, newest first."""
    result = await db.execute(
        select(AuthSession)
        .where(
            AuthSession.person_id == person_id,
            AuthSession.active.is_(True),
            AuthSession.expires_at > utcnow(),
        )
        .order_by(AuthSession.created_at.desc())
    )
    return list(result.scalars())


async def revoke_all_sessions(
    db: AsyncSession, *, person_id: str, by: str | None, keep: str | None = None
) -> int:
    """End every session of a person (password reset), or all but `keep` (password change).
    Expired ones have ended already: left as they are, they get no new version, and no update
    races housekeeping deleting them."""
    now = utcnow()
    result = await db.execute(
        select(AuthSession).where(
            AuthSession.person_id == person_id,
            AuthSession.active.is_(True),
            AuthSession.expires_at > now,
        )
    )
    count = 0
    for row in result.scalars():
        if row.entity_id == keep:
            continue
        row.active = False
        row.revoked_at = now
        row.changed_by_id = by
        count += 1
    await db.flush()
    return count


async def touch_only(db: AsyncSession, *, session_id: str, when: datetime) -> None:
    """Bookkeeping update of last use without loading the row; a no-op when another request
    or instance recorded a use within the granularity, so a session is written at most about
    once a minute however many instances serve it."""
    await db.execute(
        update(AuthSession)
        .where(
            AuthSession.entity_id == session_id,
            AuthSession.last_used_at < when - LAST_USED_GRANULARITY,
        )
        .values(last_used_at=when)
        .execution_options(**BOOKKEEPING)
    )
