"""Helpers for the email tests: record an email the way the services do, read its outbox row,
and every email so far, delivered or not (a delivered row keeps no body, so the bodies the
relay's sender opened are remembered here, see `remember_sent_emails`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from quart_template.db import utcnow
from quart_template.email import service
from quart_template.email.messages import OutgoingEmail
from quart_template.events.outbox import EMAIL, PENDING, OutboxMessage, email_body, enqueue_email
from quart_template.runtime import Runtime

LINK = "http://frontend.test/session/login/tok.en-123/YWJj"

# message_id -> the email the relay's sender opened, in the running test.
_OPENED: dict[str, OutgoingEmail] = {}


def remember_sent_emails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep each email the sender opens, for `all_emails` (the row itself is emptied)."""
    _OPENED.clear()
    opened = service.outgoing_email

    def remember(message: OutboxMessage, *, key: bytes) -> OutgoingEmail:
        email = opened(message, key=key)
        _OPENED[message.message_id] = email
        return email

    monkeypatch.setattr(service, "outgoing_email", remember)


async def all_emails(rt: Runtime) -> list[dict[str, Any]]:
    """Every email recorded so far as `{event, to_emails, data}`, oldest first: a pending row
    decrypted, a delivered one as its sender opened it."""
    async with rt.db() as db:
        query = select(OutboxMessage).where(OutboxMessage.destination == EMAIL)
        rows = list((await db.execute(query.order_by(OutboxMessage.id))).scalars())
    bodies = []
    for row in rows:
        if row.status == PENDING:
            bodies.append(email_body(row, key=rt.settings.encryption_key))
        elif (sent := _OPENED.get(row.message_id)) is not None:
            bodies.append({"event": sent.event, "to_emails": sent.to, "data": sent.data})
    return bodies


async def record_email(rt: Runtime, *, event: str, to: str, data: dict[str, Any]) -> str:
    """Enqueue in a committed transaction (as a view does); returns the outbox message id."""
    async with rt.db() as db, db.begin():
        message = enqueue_email(db, key=rt.settings.encryption_key, event=event, to=to, data=data)
    return message.message_id


async def email_row(rt: Runtime, message_id: str) -> OutboxMessage:
    async with rt.db() as db:
        query = select(OutboxMessage).where(
            OutboxMessage.message_id == message_id, OutboxMessage.destination == EMAIL
        )
        return (await db.execute(query)).scalar_one()


async def make_due(rt: Runtime, message_id: str) -> None:
    """Skip the backoff wait, as if its time had come."""
    async with rt.db() as db, db.begin():
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id == message_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def queued_email_events(rt: Runtime) -> list[str | None]:
    """The events of the emails in the outbox, oldest first."""
    async with rt.db() as db:
        query = select(OutboxMessage.action).where(OutboxMessage.kind == "email")
        return list((await db.execute(query.order_by(OutboxMessage.id))).scalars())
