"""Helpers for the email tests: record an email the way the services do, read its outbox row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from quart_template.db import utcnow
from quart_template.events.outbox import EMAIL, OutboxMessage, enqueue_email
from quart_template.runtime import Runtime

LINK = "http://frontend.test/session/login/tok.en-123/YWJj"


async def record_email(rt: Runtime, *, event: str, to: str, data: dict[str, Any]) -> str:
    """Enqueue in a committed transaction (as a view does); returns the outbox message id."""
    async with rt.db() as db, db.begin():
        message = enqueue_email(db, event=event, to=to, data=data)
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
