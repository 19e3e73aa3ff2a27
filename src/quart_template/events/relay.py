"""Drains the outbox: each pending row goes to its destination's sender, in id order per
entity; a row is marked sent only after the sender returned (the broker confirmed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quart_template.db import utcnow
from quart_template.events.outbox import PENDING, SENT, OutboxMessage

log = logging.getLogger(__name__)

Sender = Callable[[OutboxMessage], Awaitable[None]]

BATCH_SIZE = 200
MAX_BACKOFF_SECONDS = 300.0


def backoff(attempts: int) -> timedelta:
    """Capped exponential backoff: 1 s, 2 s, 4 s, ... up to 5 minutes."""
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempts - 1)))


class OutboxRelay:
    """Delivers outbox rows at least once; `kick()` wakes it right after a commit."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        senders: dict[str, Sender],
        *,
        poll_interval: float = 1.0,
    ) -> None:
        self._db = db
        self._senders = senders
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop after the batch in flight; pending rows stay for the next start."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                delivered = await self.drain_once()
            except Exception:
                log.exception("outbox relay pass failed", extra={"event": "relay_error"})
                delivered = 0
            if delivered == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
                self._wake.clear()

    async def drain_once(self) -> int:
        """One pass over every destination; returns how many rows were delivered."""
        total = 0
        for destination, sender in self._senders.items():
            total += await self._drain_destination(destination, sender)
        return total

    async def drain(self, max_passes: int = 50) -> None:
        """Deliver everything deliverable now (used by tests and the CLI)."""
        for _ in range(max_passes):
            if await self.drain_once() == 0:
                return

    async def _drain_destination(self, destination: str, sender: Sender) -> int:
        delivered = 0
        async with self._db() as db, db.begin():
            rows = (
                await db.execute(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.destination == destination, OutboxMessage.status == PENDING
                    )
                    .order_by(OutboxMessage.id)
                    .limit(BATCH_SIZE)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
            blocked: set[str] = set()
            now = utcnow()
            for row in rows:
                key = row.entity_id or row.message_id
                if key in blocked:
                    continue
                if row.next_attempt_at > now:
                    blocked.add(key)  # an earlier row of this entity waits: keep order
                    continue
                try:
                    await sender(row)
                except Exception as exc:
                    blocked.add(key)
                    row.attempts += 1
                    row.next_attempt_at = now + backoff(row.attempts)
                    row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    log.warning(
                        "outbox delivery failed",
                        extra={
                            "event": "outbox_retry",
                            "destination": destination,
                            "message_id": row.message_id,
                            "attempts": row.attempts,
                        },
                    )
                    continue
                row.status = SENT
                row.sent_at = utcnow()
                delivered += 1
        return delivered
