"""Step-up ("sudo mode"): a session remembers when its holder last proved a credential, and a
change of the ways to sign in needs a proof younger than REAUTH_MAX_AGE. A stolen access token
alone then cannot add a factor, remove one, or read the recovery codes.

The proof is read from the session's row when it is needed, never from the token check's
cache: a re-authentication a moment ago, on this instance or another, counts at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.db import utcnow
from quart_template.errors import Forbidden
from quart_template.sessions.invalidation import BOOKKEEPING
from quart_template.sessions.models import AuthSession
from quart_template.settings import Settings

REAUTH_REQUIRED = "Please confirm it is you: re-authenticate first."


class ReauthRequired(Forbidden):
    """The session's proof is too old: the client re-authenticates (`POST /reauthenticate`,
    or a sign-in with an already-linked provider) and tries again. Not a failed credential
    check, so the rate limits do not count it."""

    body_fields = {"reauth_required": True}
    credential_failure = False

    def __init__(self) -> None:
        super().__init__(REAUTH_REQUIRED)


def proof_is_recent(proved_at: datetime, settings: Settings) -> bool:
    """Whether a credential proved at `proved_at` is within REAUTH_MAX_AGE seconds."""
    return utcnow() - proved_at <= timedelta(seconds=settings.reauth_max_age)


async def require_recent_proof(db: AsyncSession, *, session_id: str, settings: Settings) -> None:
    """403 with `reauth_required` unless the session's proof is recent."""
    result = await db.execute(
        select(AuthSession.proved_at).where(AuthSession.entity_id == session_id)
    )
    proved_at = result.scalar_one_or_none()
    if proved_at is None or not proof_is_recent(proved_at, settings):
        raise ReauthRequired()


async def record_proof(db: AsyncSession, *, session_id: str) -> None:
    """The holder just proved a credential: the session's proof starts again (bookkeeping, no
    new version, no event)."""
    await db.execute(
        update(AuthSession)
        .where(AuthSession.entity_id == session_id)
        .values(proved_at=utcnow())
        .execution_options(**BOOKKEEPING)
    )
