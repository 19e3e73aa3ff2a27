"""Step-up ("sudo mode"): a session remembers when its holder last proved a credential, and a
change of the ways to sign in needs a proof younger than REAUTH_MAX_AGE. A stolen access token
alone then cannot add a factor, remove one, or read the recovery codes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.db import utcnow
from quart_template.errors import Forbidden
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


def proof_is_recent(session: AuthSession, settings: Settings) -> bool:
    """Whether the session's holder proved a credential within REAUTH_MAX_AGE seconds."""
    return utcnow() - session.proved_at <= timedelta(seconds=settings.reauth_max_age)


def require_recent_proof(session: AuthSession, settings: Settings) -> None:
    """403 with `reauth_required` unless the session's proof is recent."""
    if not proof_is_recent(session, settings):
        raise ReauthRequired()


async def record_proof(db: AsyncSession, *, session_id: str) -> None:
    """The holder just proved a credential: the session's proof starts again (bookkeeping, no
    new version, no event)."""
    await db.execute(
        update(AuthSession).where(AuthSession.entity_id == session_id).values(proved_at=utcnow())
    )
