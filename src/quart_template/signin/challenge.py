"""The second factor is bound to the first: a passed password (or social) step leaves a
short-lived challenge in the database; only it lets a TOTP or recovery code finish a login."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import Person
from quart_template.db import utcnow
from quart_template.mfa.models import MfaChallenge
from quart_template.passkeys.repository import has_passkeys
from quart_template.request_meta import ClientInfo
from quart_template.sessions.service import issue_session
from quart_template.settings import Settings
from quart_template.signin.outcomes import SecondFactorNeeded, SignedIn, SignInOutcome
from quart_template.signing import random_id, read_signed

CHALLENGE_SALT = "mfa-challenge"
PASSKEY = "passkey"  # the first factor of a sign-in with a passkey


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=CHALLENGE_SALT)


def _hash(challenge_id: str) -> str:
    return hashlib.sha256(challenge_id.encode()).hexdigest()


async def first_factor_passed(
    db: AsyncSession,
    *,
    settings: Settings,
    person: Person,
    method: str,
    client: ClientInfo,
    login_method: str | None = None,
    has_passkey: bool | None = None,
) -> SignInOutcome:
    """After a first factor: a session, or the challenge that the second factor must name
    (`method`: "password", the provider, or "passkey"). A second factor is asked of an MFA
    person, and after a password or social step of a person with passkeys, whose passkey
    is one (after a passkey without user verification, only a TOTP or recovery code is).
    `has_passkey`: whether the person has one, when the caller read it in this transaction."""
    if has_passkey is None and method != PASSKEY:
        has_passkey = await has_passkeys(db, person_id=person.entity_id)
    passkey = method != PASSKEY and bool(has_passkey)
    if person.mfa_enabled or passkey:
        token = await begin_second_factor(db, settings=settings, person=person, method=method)
        return SecondFactorNeeded(person=person, mfa_token=token, passkey=passkey)
    issued = await issue_session(db, settings=settings, person=person, client=client)
    return SignedIn(person=person, token=issued, login_method=login_method)


async def begin_second_factor(
    db: AsyncSession, *, settings: Settings, person: Person, method: str
) -> str:
    """Record the passed first factor (`method`: "password" or a provider) and return the
    `mfa_token` naming it (signed; the database keeps only the id's hash)."""
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
    return _serializer(settings).dumps(challenge_id)


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
        signed = read_signed(_serializer(settings), mfa_token, max_age=settings.mfa_token_expire)
        challenge_id = random_id(signed)
        if challenge_id is None:
            return None
        query = query.where(MfaChallenge.id_hash == _hash(challenge_id))
    elif person_id is not None:
        query = query.where(MfaChallenge.person_id == person_id).order_by(
            MfaChallenge.created_at.desc()
        )
    else:
        return None
    return (await db.execute(query.limit(1))).scalar_one_or_none()
