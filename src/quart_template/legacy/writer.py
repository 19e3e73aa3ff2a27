"""One batch written in one transaction with plain INSERTs: no ORM flush runs, so the
outbox hooks see nothing and no event or email is recorded, unless `--emit-events` asks for
one "create" event per imported current row."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from quart_template.accounts.models import LoginMethod, Person
from quart_template.db import utcnow
from quart_template.entities import AUDIT_TABLES, Versioned
from quart_template.events.outbox import PENDING, OutboxMessage, entity_event_body
from quart_template.legacy.target import TARGET_TABLES
from quart_template.legacy.versions import Mapped
from quart_template.mfa.models import OtpMethod, RecoveryCode

MODELS: dict[str, type[Versioned]] = {
    "person": Person,
    "login_method": LoginMethod,
    "otp_method": OtpMethod,
    "recovery_code": RecoveryCode,
}


async def write_batch(
    conn: AsyncConnection, mapped: dict[str, list[Mapped]], *, destinations: Sequence[str]
) -> None:
    """Current rows (people first: the others refer to them), then their history, then the
    events when there are destinations."""
    for table, entities in mapped.items():
        if entities:
            await conn.execute(insert(TARGET_TABLES[table]), [m.row for m in entities])
    for table, entities in mapped.items():
        history = [row for m in entities for row in m.history]
        if history:
            await conn.execute(insert(AUDIT_TABLES[table]), history)
    events = [
        event
        for table, entities in mapped.items()
        for m in entities
        for event in _event_rows(table, m, destinations)
    ]
    if events:
        await conn.execute(insert(OutboxMessage.__table__), events)  # type: ignore[arg-type]


def _event_rows(table: str, mapped: Mapped, destinations: Sequence[str]) -> list[dict[str, Any]]:
    """The "create" event the app would have recorded for this row, per destination."""
    if not destinations:
        return []
    entity = MODELS[table](**{k: v for k, v in mapped.row.items()})
    payload = json.dumps(entity_event_body(entity, "create"), separators=(",", ":"))
    message_id = uuid.uuid4().hex
    now = utcnow()
    return [
        {
            "message_id": message_id,
            "destination": destination,
            "kind": "entity",
            "entity": entity.__entity__,
            "action": "create",
            "entity_id": entity.entity_id,
            "version": entity.version,
            "owner_id": entity.owner_id,
            "payload": payload,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for destination in destinations
    ]
