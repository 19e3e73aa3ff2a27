"""The second factor is bound to the first: a passed password (or social) step leaves a
short-lived challenge in the database; only it lets a TOTP or recovery code finish a login."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import Person
from quart_template.accounts.serializers import mfa_pending_object
from quart_template.db import utcnow
from quart_template.mfa.models import MfaChallenge
from quart_template.settings import Settings

CHALLENGE_SALT = "mfa-challenge"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=CHALLENGE_SALT)


def _hash(challenge_id: str) -> str:
    return hashlib.sha256(challenge_id.encode()).hexdigest()


async def begin_second_factor(
    db: AsyncSession, *, settings: Settings, person: Person, method: str
) -> dict[str, Any]:
    """Record the passed first factor (`method`: "password" or a provider) and return the
    response body: `{"success": true, "user": {mfa_enabled, email, verified}, "mfa_token"}`."""
    challenge_id = secrets.token_hex(32)
    now = utcnow()
    db.add(
        MfaChallenge(
            id_hash=_hash(challenge_id),
            person_id=person.entity_id,
            method=method,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.mfa_token_expire),
        )
    )
    await db.flush()
    return {
        "success": True,
        "user": mfa_pending_object(person),
        "mfa_token": _serializer(settings).dumps(challenge_id),
    }


async def find_challenge(
    db: AsyncSession, *, settings: Settings, mfa_token: str | None, person_id: str | None
) -> MfaChallenge | None:
    """The live challenge named by `mfa_token`, or, for a legacy `{email, otp}` client, the
    person's newest live challenge. None when there is none (expired, used, forged)."""
    now = utcnow()
    query = select(MfaChallenge).where(
        MfaChallenge.expires_at > now, MfaChallenge.used_at.is_(None)
    )
    if mfa_token is not None:
        try:
            challenge_id = _serializer(settings).loads(mfa_token, max_age=settings.mfa_token_expire)
        except BadSignature:
            return None
        if not isinstance(challenge_id, str):
            return None
        query = query.where(MfaChallenge.id_hash == _hash(challenge_id))
    elif person_id is not None:
        query = query.where(MfaChallenge.person_id == person_id).order_by(
            MfaChallenge.created_at.desc()
        )
    else:
        return None
    return (await db.execute(query.limit(1))).scalar_one_or_none()
