"""Enrolment rules: MFA is on only after a confirmed code (turning it on and off: `switch`), a
secret is shown only before that. Changing the factors needs a recent proof in the session
(step-up); the password given here is such a proof."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import Person
from quart_template.db import new_entity_id
from quart_template.errors import BadRequest, Conflict, Forbidden, NotFound
from quart_template.mfa import recovery, repository, totp
from quart_template.mfa.checks import (
    OTP_SCOPE,
    accept_code,
    check_password,
    otp_secret,
    remember_confirmation,
    secret_context,
)
from quart_template.mfa.crypto import DecryptionError, encrypt_text
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record, record_alone
from quart_template.sessions.caller import PersonSummary, SessionSummary
from quart_template.sessions.proof import record_proof, require_recent_proof
from quart_template.settings import Settings

log = logging.getLogger(__name__)

ALREADY_ENABLED = "MFA is already enabled."
NOT_ENABLED = "MFA is not enabled."
HAS_PASSWORD = "This account has a password: use login_type 'signup' with it."
INVALID_OTP = "Invalid OTP code."
NO_METHOD = "Request a QR code (/qrcode) first."
ALREADY_VERIFIED = "OTP already verified."
NOT_VERIFIED = "Verify an OTP code (/verify_otp) first."


@dataclass(frozen=True)
class Enrolment:
    """What `/qrcode` shows: once, before the method is confirmed."""

    secret: str
    uri: str
    image: str


async def lock_person(db: AsyncSession, *, person_id: str, with_password: bool = False) -> Person:
    """The caller, locked so two enrolment requests of one person run one after the other."""
    person = await repository.lock_person(db, person_id=person_id, with_password=with_password)
    if person is None:
        raise NotFound("Unknown user.")
    return person


async def start_enrolment(
    rt: Runtime,
    *,
    person: PersonSummary,
    session: SessionSummary,
    login_type: str,
    password: str | None,
    client: ClientInfo,
) -> Enrolment:
    """Check who asks (the password, a proof of it; or "social" for people without one, who
    need a recent proof in the session), then create the OTP method or reuse the one waiting
    for its first code."""
    if person.mfa_enabled:
        raise Conflict(ALREADY_ENABLED)
    if login_type == "signup":
        if password is None:  # "" is a wrong password (403), as /openapi.json says
            raise BadRequest("Password is required.")
        await check_password(rt, person=person, password=password, client=client)
    async with rt.db() as db, db.begin():
        if login_type == "signup":
            await record_proof(db, session_id=session.entity_id)
        else:
            await require_recent_proof(db, session_id=session.entity_id, settings=rt.settings)
        current = await lock_person(db, person_id=person.entity_id, with_password=True)
        if login_type == "social" and current.password_hash:
            raise Forbidden(HAS_PASSWORD)
        if current.mfa_enabled:
            raise Conflict(ALREADY_ENABLED)
        secret = await _pending_secret(db, rt.settings, current)
    uri = totp.provisioning_uri(secret, email=person.email, issuer=rt.settings.mfa_issuer)
    image = await asyncio.to_thread(totp.qr_png_base64, uri)
    return Enrolment(secret=secret, uri=uri, image=image)


async def _pending_secret(db: AsyncSession, settings: Settings, person: Person) -> str:
    method = await repository.get_otp_method(
        db, person_id=person.entity_id, lock=True, with_secret=True
    )
    if method is not None and not method.confirmed:
        with contextlib.suppress(DecryptionError):  # unreadable (key changed): start over
            return otp_secret(method, settings=settings)
    if method is not None:
        # Confirmed but never enabled: start over, so a confirmed secret is never shown again.
        method.active = False
        method.changed_by_id = person.entity_id
        await recovery.retire_codes(db, person_id=person.entity_id)
    secret = totp.new_secret()
    entity_id = new_entity_id()
    context = secret_context(entity_id)
    repository.add_otp_method(
        db,
        person_id=person.entity_id,
        entity_id=entity_id,
        secret_encrypted=encrypt_text(secret, key=settings.encryption_key, context=context),
    )
    await db.flush()
    return secret


async def confirm_otp(
    rt: Runtime, *, person: PersonSummary, otp: str, client: ClientInfo
) -> list[str]:
    """The first correct code confirms the method and brings the recovery codes (its step is
    spent, and remembered for `enable_mfa`)."""
    await rt.limiter.guard_credentials(client.ip, account=person.email, scope=OTP_SCOPE)
    async with rt.db() as db, db.begin():
        current = await lock_person(db, person_id=person.entity_id)
        method = await repository.get_otp_method(
            db, person_id=current.entity_id, lock=True, with_secret=True
        )
        if method is None:
            raise BadRequest(NO_METHOD)
        if method.confirmed:
            raise Conflict(ALREADY_VERIFIED)
        step = accept_code(method, otp, settings=rt.settings, by=current.entity_id)
        if step is not None:
            method.confirmed = True
            remember_confirmation(method, step)
            record(db, "mfa_otp_confirmed", person_id=current.entity_id, client=client)
            codes = await recovery.issue_codes(
                db, settings=rt.settings, person_id=current.entity_id
            )
    if step is None:
        await rt.limiter.record_failure(client.ip, account=person.email, scope=OTP_SCOPE)
        await record_alone(rt, "mfa_code_refused", person_id=person.entity_id, client=client)
        raise Forbidden(INVALID_OTP)
    return codes
