"""Outbox backlog for /readyz: how much waits, and since when, per destination."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quart_template.db import utcnow
from quart_template.events.outbox import DEAD, PENDING, OutboxMessage


async def outbox_metrics(db: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """`{"pending", "oldest_pending_age_seconds", "dead", "destinations": {...}}`."""
    async with db() as session:
        rows = (
            await session.execute(
                select(
                    OutboxMessage.destination,
                    OutboxMessage.status,
                    func.count(),
                    func.min(OutboxMessage.created_at),
                )
                .where(OutboxMessage.status.in_((PENDING, DEAD)))
                .group_by(OutboxMessage.destination, OutboxMessage.status)
            )
        ).all()
    now = utcnow()
    destinations: dict[str, dict[str, Any]] = {}
    for destination, status, count, oldest in rows:
        entry = destinations.setdefault(
            destination, {"pending": 0, "oldest_pending_age_seconds": None, "dead": 0}
        )
        if status == DEAD:
            entry["dead"] = count
            continue
        entry["pending"] = count
        if oldest is not None:
            entry["oldest_pending_age_seconds"] = round((now - oldest).total_seconds(), 3)
    ages = [d["oldest_pending_age_seconds"] for d in destinations.values()]
    return {
        "pending": sum(d["pending"] for d in destinations.values()),
        "oldest_pending_age_seconds": max((a for a in ages if a is not None), default=None),
        "dead": sum(d["dead"] for d in destinations.values()),
        "destinations": destinations,
    }
