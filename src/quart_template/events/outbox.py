"""The transactional outbox: one row per message and destination, written in the caller's
transaction, delivered later by the relay (at least once, in order per entity).

Entity events are recorded by hooks this module registers on the versioned-entity base (on
import): the persistence layers below know nothing of events. Where events go, and whom to wake
after a commit, travels in the session's `info` (see `session_info`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, event, insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Mapper, Session, mapped_column, object_session

from quart_template.db import Base, BigIntPK, UTCDateTime, utcnow
from quart_template.entities import Versioned, made_new_version
from quart_template.mfa.crypto import decrypt_text, encrypt_text

PENDING = "pending"
SENT = "sent"
DEAD = "dead"  # refused for good by its destination (e.g. over Pusher's size limit)

EMAIL = "email"
# What an email row keeps once delivered or refused for good: its links must not outlive it.
SPENT_EMAIL = "{}"

DESTINATIONS_KEY = "event_destinations"
SIGNAL_KEY = "commit_signal"
_WRITTEN_KEY = "outbox_written"


class CommitSignal:
    """Wakes the outbox relay when a transaction that wrote outbox rows commits."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[], None]] = []

    def fire(self) -> None:
        for listener in self.listeners:
            listener()


def session_info(destinations: tuple[str, ...], signal: CommitSignal) -> dict[str, Any]:
    """What a session factory carries for the hooks below: where entity events go (none: no
    rows) and the signal fired after a commit that wrote outbox rows."""
    return {DESTINATIONS_KEY: destinations, SIGNAL_KEY: signal}


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
        """An entity event's body, as published (an email row's is sealed: `email_body`)."""
        loaded: dict[str, Any] = json.loads(self.payload)
        return loaded


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row the relay claimed, as every destination reads it: a plain Core row, not an ORM
    object (identity map, instance state, attribute events per row cost a third of the relay's
    event-loop time per event while it drained a backlog, and the relay never changes a row
    through the ORM)."""

    id: int
    message_id: str
    destination: str
    kind: str
    entity: str | None
    action: str | None
    entity_id: str | None
    version: int | None
    owner_id: str | None
    payload: str
    attempts: int
    created_at: datetime

    def body(self) -> dict[str, Any]:
        """As `OutboxMessage.body`."""
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
    destinations: tuple[str, ...] = session.info.get(DESTINATIONS_KEY, ()) if session else ()
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
    session: AsyncSession, *, key: bytes, event: str, to: str, data: dict[str, Any]
) -> OutboxMessage:
    """Record an email in the caller's transaction; the relay sends it after commit. The body
    holds live links (verification, reset), so it is stored encrypted with `key`."""
    message_id = uuid.uuid4().hex
    body = json.dumps({"event": event, "to_emails": [to], "data": data})
    message = OutboxMessage(
        message_id=message_id,
        destination=EMAIL,
        kind="email",
        entity=None,
        action=event,
        payload=encrypt_text(body, key=key, context=_email_context(message_id)),
        status=PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(message)
    mark_outbox_written(session.sync_session)
    return message


def email_body(message: Claimed, *, key: bytes) -> dict[str, Any]:
    """The `{"event", "to_emails", "data"}` of a pending email row; raises DecryptionError
    when `key` cannot open it."""
    opened = decrypt_text(message.payload, key=key, context=_email_context(message.message_id))
    body: dict[str, Any] = json.loads(opened)
    return body


def _email_context(message_id: str) -> str:
    """Binds the ciphertext to its row: a payload copied onto another row does not open."""
    return f"outbox:{message_id}:{EMAIL}"


def mark_outbox_written(session: Session) -> None:
    session.info[_WRITTEN_KEY] = True


@event.listens_for(Versioned, "after_insert", propagate=True)
def _after_insert(mapper: Mapper[Any], connection: Connection, target: Versioned) -> None:
    record_entity_event(connection, target, "create")


@event.listens_for(Versioned, "after_update", propagate=True)
def _after_update(mapper: Mapper[Any], connection: Connection, target: Versioned) -> None:
    if made_new_version(target):
        record_entity_event(connection, target, "update")


@event.listens_for(Session, "after_commit")
def _wake_relay(session: Session) -> None:
    if session.info.pop(_WRITTEN_KEY, False):
        signal = session.info.get(SIGNAL_KEY)
        if signal is not None:
            signal.fire()


@event.listens_for(Session, "after_rollback")
def _forget_outbox(session: Session) -> None:
    session.info.pop(_WRITTEN_KEY, None)
