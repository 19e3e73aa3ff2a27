"""Step-up over HTTP: age a session's proof (in the database, no sleeping) and read the
403 that asks the client to re-authenticate."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from quart_template.db import utcnow
from quart_template.runtime import Runtime
from quart_template.sessions.models import AuthSession
from tests.support.http import json_error

REAUTH_MESSAGE = "Please confirm it is you: re-authenticate first."


async def age_proofs(rt: Runtime, person_id: str, *, seconds: int | None = None) -> None:
    """Make every session of the person look proved `seconds` ago (default: just longer ago
    than REAUTH_MAX_AGE allows)."""
    age = rt.settings.reauth_max_age + 1 if seconds is None else seconds
    async with rt.db() as db, db.begin():
        await db.execute(
            update(AuthSession)
            .where(AuthSession.person_id == person_id)
            .values(proved_at=utcnow() - timedelta(seconds=age))
        )


async def proved_at(rt: Runtime, person_id: str) -> list[datetime]:
    """When each live session of the person was last proved."""
    async with rt.db() as db:
        query = select(AuthSession.proved_at).where(
            AuthSession.person_id == person_id, AuthSession.active.is_(True)
        )
        return list((await db.execute(query)).scalars())


async def reauth_required(response: Any) -> dict[str, Any]:
    """The response is the 403 that asks for a re-authentication first."""
    body = await json_error(response, 403)
    assert body == {"success": False, "message": REAUTH_MESSAGE, "reauth_required": True}
    return body


def fresh(when: datetime, *, within: int = 60) -> bool:
    """Whether `when` is at most `within` seconds ago."""
    return utcnow() - when <= timedelta(seconds=within)
