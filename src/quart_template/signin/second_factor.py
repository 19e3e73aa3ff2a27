"""Finishing a login with the second factor. A code alone never signs anyone in: it must come
with a live challenge left by a passed password (or social) step — named by `mfa_token`, or,
for a legacy `{email, otp}` client, the newest challenge of that email (5 minutes)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from quart_template.accounts.models import Person, normalise_email
from quart_template.accounts.repository import get_person, get_person_by_email
from quart_template.db import utcnow
from quart_template.errors import Unauthorized
from quart_template.mfa import recovery, repository
from quart_template.mfa.checks import OTP_SCOPE, accept_code
from quart_template.mfa.models import MfaChallenge
from quart_template.passkeys import repository as passkeys
from quart_template.passkeys.ceremony import CeremonyFailed
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import log_only, record, record_alone
from quart_template.sessions.service import issue_session
from quart_template.signin import passkey
from quart_template.signin.challenge import find_challenge
from quart_template.signin.outcomes import SignedIn
from quart_template.signin.passkey import PASSKEY_SCOPE

log = logging.getLogger(__name__)

LEGACY_WINDOW = timedelta(minutes=5)
RECOVERY_SCOPE = "recovery"

NO_CHALLENGE = "Please log in with your password first."
INVALID_OTP = "The TOTP MFA token is invalid."
INVALID_RECOVERY_CODE = "The MFA recovery code is invalid."


@dataclass(frozen=True)
class Attempt:
    """Who is finishing which login, from which client."""

    mfa_token: str | None
    email: str | None
    client: ClientInfo


async def _pending_login(
    rt: Runtime, attempt: Attempt, scope: str, *, needs_mfa: bool = True
) -> tuple[str, Person]:
    """The live challenge's key and its person (with MFA on, unless `needs_mfa` is False: a
    passkey may be the second factor of a person without TOTP), or 401 (counted per client
    IP). Wrong codes count per account and client IP (and per account from all addresses),
    so a stranger sending the legacy `{email, otp}` form locks only their own address out."""
    email_key = normalise_email(attempt.email) if attempt.email else None
    await rt.limiter.guard_credentials(attempt.client.ip, account=email_key, scope=scope)
    challenge, person = await _find_pending(rt, attempt)
    if (
        challenge is None
        or person is None
        or (needs_mfa and not person.mfa_enabled)
        or (email_key is not None and person.email_key != email_key)
    ):
        await _refuse(rt, attempt, NO_CHALLENGE, person=None, scope=scope)
    await rt.limiter.guard_credentials(attempt.client.ip, account=person.email, scope=scope)
    return challenge.id_hash, person


async def _find_pending(rt: Runtime, attempt: Attempt) -> tuple[MfaChallenge | None, Person | None]:
    async with rt.db() as db, db.begin():
        if attempt.mfa_token is not None:
            challenge = await find_challenge(
                db, settings=rt.settings, mfa_token=attempt.mfa_token, person_id=None
            )
            if challenge is None:
                return None, None
            return challenge, await get_person(db, entity_id=challenge.person_id)
        if attempt.email is None:
            return None, None
        person = await get_person_by_email(db, email=attempt.email)
        if person is None:
            return None, None
        challenge = await find_challenge(
            db, settings=rt.settings, mfa_token=None, person_id=person.entity_id
        )
        if challenge is not None and challenge.created_at < utcnow() - LEGACY_WINDOW:
            challenge = None  # the legacy form counts a password step of 5 minutes only
        return challenge, person


async def _refuse(
    rt: Runtime, attempt: Attempt, message: str, *, person: Person | None, scope: str
) -> NoReturn:
    """Count the failure against the person's account (when the code was wrong for a live
    login of theirs, which also goes to their history) and the client IP."""
    account = person.email if person else None
    await rt.limiter.record_failure(attempt.client.ip, account=account, scope=scope)
    if person is None:
        log_only("second_factor_refused", client=attempt.client, scope=scope)
    else:
        await record_alone(
            rt, "login_failed", person_id=person.entity_id, client=attempt.client, scope=scope
        )
    raise Unauthorized(message)


async def sign_in_with_otp(rt: Runtime, attempt: Attempt, *, otp: str) -> SignedIn:
    """A fresh session for a correct, unused TOTP code (each time step works once)."""
    challenge_key, person = await _pending_login(rt, attempt, OTP_SCOPE)
    try:
        async with rt.db() as db, db.begin():
            current = await _lock_mfa_person(db, person)
            method = await repository.get_otp_method(
                db, person_id=person.entity_id, lock=True, with_secret=True
            )
            if method is None or not method.confirmed:
                raise _Wrong
            if accept_code(method, otp, settings=rt.settings, by=person.entity_id) is None:
                raise _Wrong
            signed_in = await _finish(rt, db, challenge_key, current, attempt, factor="otp")
    except (_Wrong, StaleDataError):
        await _refuse(rt, attempt, INVALID_OTP, person=person, scope=OTP_SCOPE)
    except _Consumed:
        await _refuse(rt, attempt, NO_CHALLENGE, person=None, scope=OTP_SCOPE)
    await rt.limiter.clear(person.email)
    return signed_in


async def sign_in_with_recovery_code(rt: Runtime, attempt: Attempt, *, code: str) -> SignedIn:
    """A fresh session for an unused recovery code, which is spent by this (once only)."""
    challenge_key, person = await _pending_login(rt, attempt, RECOVERY_SCOPE)
    try:
        async with rt.db() as db, db.begin():
            current = await _lock_mfa_person(db, person)
            if not await recovery.spend_code(db, person_id=person.entity_id, code=code):
                raise _Wrong
            record(db, "recovery_code_used", person_id=person.entity_id, client=attempt.client)
            signed_in = await _finish(
                rt, db, challenge_key, current, attempt, factor="recovery_code"
            )
    except (_Wrong, StaleDataError):
        await _refuse(rt, attempt, INVALID_RECOVERY_CODE, person=person, scope=RECOVERY_SCOPE)
    except _Consumed:
        await _refuse(rt, attempt, NO_CHALLENGE, person=None, scope=RECOVERY_SCOPE)
    await rt.limiter.clear(person.email)
    return signed_in


async def sign_in_with_passkey(
    rt: Runtime, attempt: Attempt, *, credential: dict[str, Any]
) -> SignedIn:
    """A fresh session for an assertion of one of the person's passkeys that answers the
    options made for this login (`POST /passkeys/login/options {mfa_token}`)."""
    challenge_key, person = await _pending_login(rt, attempt, PASSKEY_SCOPE, needs_mfa=False)
    assertion = await passkey.read(rt, credential, attempt.client, account=person.email)
    try:
        async with rt.db() as db, db.begin():
            spent = await passkeys.spend_challenge(
                db,
                challenge=assertion.challenge,
                purpose=passkey.SECOND_FACTOR,
                person_id=person.entity_id,
                mfa_challenge=challenge_key,
            )
        if not spent:
            raise CeremonyFailed("no live challenge of this login")
        async with rt.db() as db, db.begin():
            current = await repository.lock_person(db, person_id=person.entity_id)
            found = await passkey.locked_passkey(db, assertion, person_id=person.entity_id)
            if current is None or found is None:
                raise CeremonyFailed("not a passkey of this person")
            passkey.use(rt, assertion, found)
            signed_in = await _finish(rt, db, challenge_key, current, attempt, factor="passkey")
    except CeremonyFailed as failure:
        await passkey.refused_assertion(rt, attempt.client, failure, person=person)
    except (_Consumed, StaleDataError):
        await _refuse(rt, attempt, NO_CHALLENGE, person=None, scope=PASSKEY_SCOPE)
    await rt.limiter.clear(person.email)
    return signed_in


async def _lock_mfa_person(db: AsyncSession, person: Person) -> Person:
    """The person, locked first (the order every MFA write follows, so none deadlock), and
    still with MFA on."""
    current = await repository.lock_person(db, person_id=person.entity_id)
    if current is None or not current.mfa_enabled:
        raise _Consumed
    return current


async def _finish(
    rt: Runtime,
    db: AsyncSession,
    challenge_key: str,
    person: Person,
    attempt: Attempt,
    *,
    factor: str,
) -> SignedIn:
    """Spend the challenge and issue the session, in the transaction that spent the code."""
    if not await repository.consume_challenge(db, id_hash=challenge_key):
        raise _Consumed
    token = await issue_session(db, settings=rt.settings, person=person, client=attempt.client)
    record(db, "login_succeeded", person_id=person.entity_id, client=attempt.client, factor=factor)
    return SignedIn(person=person, token=token)


class _Wrong(Exception):
    """The code did not match (rolls the transaction back)."""


class _Consumed(Exception):
    """The challenge was spent or expired meanwhile (rolls the transaction back)."""
