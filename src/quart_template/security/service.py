"""Record a security event (a log line and, for a known person, a row in their history) and
read a person's latest ones.

    record(db, "password_changed", person_id=..., client=client)   # in the caller's transaction
    await record_alone(rt, "login_failed", person_id=..., client=client)  # its own transaction
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.db import reader, utcnow
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.models import SecurityEvent

log = logging.getLogger("quart_template.security")

HISTORY_LENGTH = 50


def record(
    db: AsyncSession, event: str, *, person_id: str | None, client: ClientInfo | None
) -> None:
    """Log the event and, when the person is known, add it to their history in `db`'s
    transaction (so it is kept exactly when the change itself is)."""
    _log(event, person_id, client)
    if person_id is not None:
        db.add(_row(event, person_id, client))


async def record_alone(
    rt: Runtime, event: str, *, person_id: str | None, client: ClientInfo | None
) -> None:
    """The same, for an event that changes nothing else (a refused credential, a denial)."""
    _log(event, person_id, client)
    if person_id is not None:
        async with rt.db() as db, db.begin():
            db.add(_row(event, person_id, client))


def log_only(event: str, *, person_id: str | None, client: ClientInfo | None) -> None:
    """An event with no history row (e.g. a rate-limit refusal for an unknown account)."""
    _log(event, person_id, client)


async def latest_events(rt: Runtime, *, person_id: str) -> list[SecurityEvent]:
    """The person's latest events, newest first."""
    async with rt.db(bind=reader(rt.engine)) as db, db.begin():
        result = await db.execute(
            select(SecurityEvent)
            .where(SecurityEvent.person_id == person_id)
            .order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
            .limit(HISTORY_LENGTH)
        )
        return list(result.scalars())


def _row(event: str, person_id: str, client: ClientInfo | None) -> SecurityEvent:
    return SecurityEvent(
        person_id=person_id,
        type=event,
        at=utcnow(),
        ip=client.ip[:45] if client else None,
        user_agent=client.user_agent if client else None,
    )


def _log(event: str, person_id: str | None, client: ClientInfo | None) -> None:
    extra = {"event": event, "security_event": True, "person_id": person_id}
    if client is not None:
        extra["ip"] = client.ip
    log.info("security event", extra=extra)
