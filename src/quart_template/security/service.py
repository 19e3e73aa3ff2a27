"""Record a security event (a log line and, for a known person, a row in their history) and
read a person's latest ones. Every sign-in outcome passes through here, so this is also where
`quart_template_logins_total` is counted.

    record(db, "password_changed", person_id=..., client=client)   # in the caller's transaction
    await record_alone(rt, "login_failed", person_id=..., client=client)  # its own transaction
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from quart_template.db import utcnow
from quart_template.metrics import LOGINS
from quart_template.replica import read_lagging
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.models import SecurityEvent

log = logging.getLogger("quart_template.security")

HISTORY_LENGTH = 50
# The events that end a sign-in step, and the outcome each counts as.
LOGIN_OUTCOMES = {
    "login_succeeded": "succeeded",
    "login_failed": "failed",
    "second_factor_refused": "failed",  # a wrong code for no live login (none to record it for)
    "login_mfa_required": "second_factor_required",
}


def record(
    db: AsyncSession,
    event: str,
    *,
    person_id: str | None,
    client: ClientInfo | None,
    **details: str,
) -> None:
    """Log the event and, when the person is known, add it to their history in `db`'s
    transaction (so it is kept exactly when the change itself is). `details` go to the log
    line only (a scope, a factor, a provider; never a secret)."""
    _log(event, person_id, client, details)
    if person_id is not None:
        db.add(_row(event, person_id, client))


async def record_alone(
    rt: Runtime,
    event: str,
    *,
    person_id: str | None,
    client: ClientInfo | None,
    **details: str,
) -> None:
    """The same, for an event that changes nothing else (a refused credential, a denial)."""
    _log(event, person_id, client, details)
    if person_id is not None:
        async with rt.db() as db, db.begin():
            db.add(_row(event, person_id, client))


def record_soon(
    rt: Runtime,
    event: str,
    *,
    person_id: str,
    client: ClientInfo | None,
    **details: str,
) -> None:
    """The same, stored after the answer: a failed login of a known person must take as long
    as one of an unknown address (no extra write before the 401 tells them apart)."""
    _log(event, person_id, client, details)
    rt.run_soon(_store_quietly(rt, _row(event, person_id, client)))


async def _store_quietly(rt: Runtime, row: SecurityEvent) -> None:
    try:
        async with rt.db() as db, db.begin():
            db.add(row)
    except Exception as exc:  # the answer is gone: a lost history row is logged, not raised
        log.warning(
            "security event not stored",
            extra={"event": "security_event_lost", "error": type(exc).__name__},
        )


def log_only(event: str, *, client: ClientInfo | None, **details: str) -> None:
    """An event of no known person (e.g. a failed login for an unknown address): a log line."""
    _log(event, None, client, details)


async def latest_events(rt: Runtime, *, person_id: str) -> list[SecurityEvent]:
    """The person's latest events, newest first (from the replica when there is one)."""

    async def read(engine: AsyncEngine) -> list[SecurityEvent]:
        async with rt.db(bind=engine) as db, db.begin():
            result = await db.execute(
                select(SecurityEvent)
                .where(SecurityEvent.person_id == person_id)
                .order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
                .limit(HISTORY_LENGTH)
            )
            return list(result.scalars())

    return await read_lagging(rt.engine, rt.replica, read)


def _row(event: str, person_id: str, client: ClientInfo | None) -> SecurityEvent:
    return SecurityEvent(
        person_id=person_id,
        type=event,
        at=utcnow(),
        ip=client.ip[:45] if client else None,
        user_agent=client.user_agent if client else None,
    )


def _log(
    event: str, person_id: str | None, client: ClientInfo | None, details: dict[str, str]
) -> None:
    outcome = LOGIN_OUTCOMES.get(event)
    if outcome is not None:
        LOGINS.labels(outcome).inc()
    extra: dict[str, object] = {"event": event, "security_event": True, "person_id": person_id}
    if client is not None:
        extra["ip"] = client.ip
    extra.update(details)
    log.info("security event: %s", event, extra=extra)
