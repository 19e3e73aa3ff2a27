"""Server-driven sign-ins in the database: SQL only. A flow is spent with one conditional
UPDATE, so of two requests finishing the same flow exactly one wins."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.db import utcnow
from quart_template.social.models import SocialFlow


def add_flow(db: AsyncSession, flow: SocialFlow) -> None:
    db.add(flow)


async def spend_flow(db: AsyncSession, *, id_hash: str, provider: str) -> SocialFlow | None:
    """Mark the live (unused, unexpired) flow of this provider used and return it; None when
    there is none (unknown, another provider's, already used or expired)."""
    now = utcnow()
    result = await db.execute(
        update(SocialFlow)
        .where(
            SocialFlow.id_hash == id_hash,
            SocialFlow.provider == provider,
            SocialFlow.used_at.is_(None),
            SocialFlow.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0)) != 1:
        return None
    return await get_flow(db, id_hash=id_hash)


async def get_flow(db: AsyncSession, *, id_hash: str) -> SocialFlow | None:
    return (
        await db.execute(select(SocialFlow).where(SocialFlow.id_hash == id_hash))
    ).scalar_one_or_none()
