"""The housekeeping lease: a row that is updated only where it is free (nobody holds it, the
holder's lease ran out, or it is ours), so of N instances asking at once exactly one gets it.
Times come from each instance's clock: the lease lasts minutes, far above any sane skew."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from quart_template.db import reader, utcnow, write_gate
from quart_template.housekeeping.models import HousekeepingLease

LEASE_NAME = "housekeeping"
# How long a lease lasts unless renewed; every batch renews it, and a batch takes well under
# a second, so only a holder that died (or lost the database) lets it run out.
LEASE_SECONDS = 300


def new_holder() -> str:
    """Who this instance is, in the lease row and the logs: host, process and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    """The housekeeping lease as seen by one holder."""

    def __init__(self, engine: AsyncEngine, *, holder: str) -> None:
        self._engine = engine
        self.holder = holder

    async def take(self, *, due_only: bool) -> bool:
        """Take the lease if it is free (and, with `due_only`, if the shared schedule says a
        run is due); True when this holder now has it."""
        await self._ensure_row()
        now = utcnow()
        row = HousekeepingLease
        free = or_(row.holder.is_(None), row.expires_at < now, row.holder == self.holder)
        condition = and_(free, row.due_at <= now) if due_only else free
        statement = (
            update(row)
            .where(row.name == LEASE_NAME, condition)
            .values(holder=self.holder, expires_at=now + timedelta(seconds=LEASE_SECONDS))
        )
        async with write_gate(self._engine), self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    async def keep(self, conn: AsyncConnection) -> bool:
        """Renew the lease inside the caller's write transaction; False when it is no longer
        ours (the caller then rolls back, so no two holders ever delete at once)."""
        row = HousekeepingLease
        result = await conn.execute(
            update(row)
            .where(row.name == LEASE_NAME, row.holder == self.holder)
            .values(expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS))
        )
        return result.rowcount == 1

    async def give_back(self, *, next_run_in: timedelta) -> None:
        """Free the lease and set when the next in-app run is due."""
        now = utcnow()
        row = HousekeepingLease
        async with write_gate(self._engine), self._engine.begin() as conn:
            await conn.execute(
                update(row)
                .where(row.name == LEASE_NAME, row.holder == self.holder)
                .values(holder=None, expires_at=now, due_at=now + next_run_in)
            )

    async def current_holder(self) -> str | None:
        """Who holds the lease now (None: nobody, or it ran out)."""
        row = HousekeepingLease
        async with reader(self._engine).connect() as conn:
            found = (
                await conn.execute(select(row.holder, row.expires_at).where(row.name == LEASE_NAME))
            ).first()
        if found is None or found.holder is None or found.expires_at < utcnow():
            return None
        holder: str = found.holder
        return holder

    async def _ensure_row(self) -> None:
        """The lease row, made on first use (due at once); of two instances making it at the
        same moment one insert loses on the key, which is fine."""
        async with reader(self._engine).connect() as conn:
            exists = await conn.scalar(
                select(HousekeepingLease.name).where(HousekeepingLease.name == LEASE_NAME)
            )
        if exists is not None:
            return
        now = utcnow()
        try:
            async with write_gate(self._engine), self._engine.begin() as conn:
                await conn.execute(
                    insert(HousekeepingLease).values(
                        name=LEASE_NAME, holder=None, expires_at=now, due_at=now
                    )
                )
        except IntegrityError:
            pass
