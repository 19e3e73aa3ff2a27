"""The transactional outbox: one row per message and destination, written in the caller's
transaction, delivered later by the relay (at least once, in order per entity)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, object_session

from quart_template.db import Base, BigIntPK, UTCDateTime, Versioned, mark_outbox_written, utcnow

PENDING = "pending"
SENT = "sent"
DEAD = "dead"  # refused for good by its destination (e.g. over Pusher's size limit)

EMAIL = "email"


class OutboxMessage(Base):
    """A message waiting for (or done with) one destination: rabbitmq, pusher or email."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("message_id", "destination"),
        Index("ix_outbox_pending", "destination", "status", "id"),
        Index("ix_outbox_entity", "destination", "entity_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(32), nullable=False)
    destination: Mapped[str] = mapped_column(String(16), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # "entity" | "email"
    entity: Mapped[str | None] = mapped_column(String(32))
    # Email rows keep the event name here (up to "RECOVERY_CODES_REGENERATED").
    action: Mapped[str | None] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def body(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload)
        return loaded


def entity_event_body(target: Versioned, action: str) -> dict[str, Any]:
    """The documented event body: entity, action, entity_id, version, changed_on, data."""
    return {
        "entity": target.__entity__,
        "action": action,
        "entity_id": target.entity_id,
        "version": target.version,
        "changed_on": target.changed_on.isoformat(),
        "data": target.public_dict(),
    }


def record_entity_event(connection: Connection, target: Versioned, action: str) -> None:
    """Called from the flush: one outbox row per configured event destination."""
    session = object_session(target)
    destinations: tuple[str, ...] = session.info.get("event_destinations", ()) if session else ()
    if not destinations or session is None:
        return
    mark_outbox_written(session)
    message_id = uuid.uuid4().hex
    payload = json.dumps(entity_event_body(target, action), separators=(",", ":"))
    now = utcnow()
    connection.execute(
        insert(OutboxMessage),
        [
            {
                "message_id": message_id,
                "destination": destination,
                "kind": "entity",
                "entity": target.__entity__,
                "action": action,
                "entity_id": target.entity_id,
                "version": target.version,
                "owner_id": target.owner_id,
                "payload": payload,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for destination in destinations
        ],
    )


def enqueue_email(
    session: AsyncSession, *, event: str, to: str, data: dict[str, Any]
) -> OutboxMessage:
    """Record an email in the caller's transaction; the relay sends it after commit."""
    message = OutboxMessage(
        message_id=uuid.uuid4().hex,
        destination=EMAIL,
        kind="email",
        entity=None,
        action=event,
        payload=json.dumps({"event": event, "to_emails": [to], "data": data}),
        status=PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(message)
    mark_outbox_written(session.sync_session)
    return message
