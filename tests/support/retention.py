"""Rows as time leaves them, for the housekeeping tests: made through the real code paths where
one exists, then aged with a plain UPDATE (which makes no new version), or added in bulk."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template.accounts.models import Person
from quart_template.db import new_entity_id, utcnow
from quart_template.events.outbox import OutboxMessage
from quart_template.mfa.models import MfaChallenge
from quart_template.passkeys.models import PasskeyChallenge
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.models import SecurityEvent
from quart_template.sessions.models import AuthSession
from quart_template.sessions.service import issue_session, revoke_session
from quart_template.social.models import SocialFlow

DAY = timedelta(days=1)
CLIENT = ClientInfo("127.0.0.1", "pytest")


def ago(days: float) -> datetime:
    return utcnow() - timedelta(days=days)


async def aged(engine: AsyncEngine, model: Any, key: Any, **values: Any) -> None:
    """Set timestamps of one row directly: time passing, not a change of the entity."""
    column = model.__mapper__.primary_key[0]
    async with engine.begin() as conn:
        await conn.execute(update(model).where(column == key).values(**values))


async def session_of(
    rt: Runtime, person: Person, *, expired_days_ago: float | None = None, revoked: bool = False
) -> str:
    """A session of `person` (revoked through the service: one more version, one audit row),
    optionally expired some days ago; its entity id."""
    async with rt.db() as db, db.begin():
        issued = await issue_session(db, settings=rt.settings, person=person, client=CLIENT)
        if revoked:
            await revoke_session(db, session=issued.session, by=person.entity_id)
    key = issued.session.entity_id
    if expired_days_ago is not None:
        await aged(rt.engine, AuthSession, key, expires_at=ago(expired_days_ago))
    return key


async def add_challenge(
    rt: Runtime, person: Person, *, expired_days_ago: float, used_days_ago: float | None = None
) -> str:
    """A second-factor challenge that expired (and maybe was spent) so many days ago."""
    key = secrets.token_hex(32)
    row = MfaChallenge(id_hash=key, person_id=person.entity_id, method="password")
    await _add_expiring(rt, row, expired_days_ago, used_days_ago)
    return key


async def add_passkey_challenge(
    rt: Runtime, *, expired_days_ago: float, used_days_ago: float | None = None
) -> str:
    """A passkey ceremony's challenge that expired (and maybe was spent) so many days ago."""
    key = secrets.token_hex(32)
    row = PasskeyChallenge(challenge_hash=key, purpose="login")
    await _add_expiring(rt, row, expired_days_ago, used_days_ago)
    return key


async def _add_expiring(
    rt: Runtime,
    row: MfaChallenge | PasskeyChallenge,
    expired_days_ago: float,
    used_days_ago: float | None,
) -> None:
    """Store a 5-minute challenge row that expired (and maybe was spent) so many days ago."""
    row.expires_at = ago(expired_days_ago)
    row.created_at = row.expires_at - timedelta(minutes=5)
    row.used_at = None if used_days_ago is None else ago(used_days_ago)
    async with rt.db() as db, db.begin():
        db.add(row)


async def add_flow(
    rt: Runtime, *, expired_days_ago: float, used_days_ago: float | None = None
) -> str:
    """A server-driven social sign-in that expired (and maybe was finished) so many days ago."""
    key = secrets.token_hex(32)
    expires = ago(expired_days_ago)
    async with rt.db() as db, db.begin():
        db.add(
            SocialFlow(
                id_hash=key,
                provider="github",
                redirect_uri="http://frontend.test/session/social/github",
                code_verifier_encrypted="sealed",
                created_at=expires - timedelta(minutes=10),
                expires_at=expires,
                used_at=None if used_days_ago is None else ago(used_days_ago),
            )
        )
    return key


async def add_outbox_row(
    rt: Runtime, *, status: str, created_days_ago: float, sent_days_ago: float | None = None
) -> int:
    """An outbox row for a destination this app does not deliver to (so no relay touches it)."""
    async with rt.db() as db, db.begin():
        row = OutboxMessage(
            message_id=new_entity_id(),
            destination="rabbitmq",
            kind="entity",
            entity="person",
            action="update",
            entity_id=new_entity_id(),
            payload="{}",
            status=status,
            created_at=ago(created_days_ago),
            next_attempt_at=ago(created_days_ago),
            sent_at=None if sent_days_ago is None else ago(sent_days_ago),
        )
        db.add(row)
    return row.id


async def add_security_event(rt: Runtime, person: Person, *, days_ago: float) -> int:
    async with rt.db() as db, db.begin():
        row = SecurityEvent(
            person_id=person.entity_id, type="login", at=ago(days_ago), ip="127.0.0.1"
        )
        db.add(row)
    return row.id


async def add_expired_sessions(
    engine: AsyncEngine, person_id: str, *, count: int, days_ago: float
) -> None:
    """Many ended sessions at once (one multi-row INSERT per thousand)."""
    expires = ago(days_ago)
    rows = [
        {
            "entity_id": new_entity_id(),
            "version": 1,
            "active": True,
            "changed_on": expires,
            "token_hash": secrets.token_hex(32),
            "person_id": person_id,
            "created_at": expires - timedelta(hours=1),
            "expires_at": expires,
            "last_used_at": expires,
            "proved_at": expires,
        }
        for _ in range(count)
    ]
    async with engine.begin() as conn:
        for start in range(0, count, 1000):
            await conn.execute(insert(AuthSession), rows[start : start + 1000])


async def keys(engine: AsyncEngine, model: Any) -> set[Any]:
    """The primary keys a table holds now (a mapped class or an audit table)."""
    column = model.__mapper__.primary_key[0] if hasattr(model, "__mapper__") else model.c.audit_id
    async with engine.connect() as conn:
        return set((await conn.execute(select(column))).scalars())


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)
