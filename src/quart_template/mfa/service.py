"""Enrolment rules: MFA is on only after a confirmed code, a secret is shown only before that,
and turning MFA off needs a current code or the password."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import Person
from quart_template.db import new_entity_id
from quart_template.email import messages
from quart_template.errors import BadRequest, Conflict, Forbidden, NotFound
from quart_template.events.outbox import enqueue_email
from quart_template.mfa import recovery, repository, totp
from quart_template.mfa.checks import (
    OTP_SCOPE,
    accept_code,
    accept_confirming_code,
    check_password,
    forget_confirmation,
    otp_secret,
    remember_confirmation,
    secret_context,
)
from quart_template.mfa.crypto import DecryptionError, encrypt_text
from quart_template.mfa.models import OtpMethod
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
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
    rt: Runtime, *, person: Person, login_type: str, password: str | None, client: ClientInfo
) -> Enrolment:
    """Check who asks (password, or "social" for people without one), then create the OTP
    method or reuse the one waiting for its first code."""
    if person.mfa_enabled:
        raise Conflict(ALREADY_ENABLED)
    if login_type == "signup":
        if not password:
            raise BadRequest("Password is required.")
        await check_password(rt, person=person, password=password, client=client)
    async with rt.db() as db, db.begin():
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


async def confirm_otp(rt: Runtime, *, person: Person, otp: str, client: ClientInfo) -> list[str]:
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
            codes = await recovery.issue_codes(
                db, settings=rt.settings, person_id=current.entity_id
            )
    if step is None:
        await rt.limiter.record_failure(client.ip, account=person.email, scope=OTP_SCOPE)
        raise Forbidden(INVALID_OTP)
    log.info("otp confirmed", extra={"event": "mfa_otp_confirmed", "person_id": person.entity_id})
    return codes


async def enable_mfa(rt: Runtime, *, person: Person, otp: str, client: ClientInfo) -> None:
    """Turn MFA on with an unspent code from the confirmed method, or once with the code that
    confirmed it (shortly after)."""
    await rt.limiter.guard_credentials(client.ip, account=person.email, scope=OTP_SCOPE)
    async with rt.db() as db, db.begin():
        current = await lock_person(db, person_id=person.entity_id)
        if current.mfa_enabled:
            raise Conflict(ALREADY_ENABLED)
        method = await repository.get_otp_method(
            db, person_id=current.entity_id, lock=True, with_secret=True
        )
        if method is None or not method.confirmed:
            raise BadRequest(NOT_VERIFIED)
        spent = accept_code(method, otp, settings=rt.settings, by=current.entity_id)
        accepted = spent is not None or accept_confirming_code(method, otp, settings=rt.settings)
        if accepted:
            forget_confirmation(method)
            current.mfa_enabled = True
            current.changed_by_id = current.entity_id
            enqueue_email(
                db, event=messages.MFA_ENABLED, to=current.email, data=_mail_data(current)
            )
    if not accepted:
        await rt.limiter.record_failure(client.ip, account=person.email, scope=OTP_SCOPE)
        raise Forbidden(INVALID_OTP)
    log.info("mfa enabled", extra={"event": "mfa_enabled", "person_id": person.entity_id})


async def disable_mfa(
    rt: Runtime, *, person: Person, otp: str | None, password: str | None, client: ClientInfo
) -> None:
    """Turn MFA off with an unspent code (preferred when both are given) or the password; the
    OTP method and recovery codes are retired with it."""
    if not person.mfa_enabled:
        raise Conflict(NOT_ENABLED)
    if otp is None:
        await check_password(rt, person=person, password=password or "", client=client)
    else:
        await rt.limiter.guard_credentials(client.ip, account=person.email, scope=OTP_SCOPE)
    async with rt.db() as db, db.begin():
        current = await lock_person(db, person_id=person.entity_id)
        if not current.mfa_enabled:
            raise Conflict(NOT_ENABLED)
        method = await repository.get_otp_method(
            db, person_id=current.entity_id, lock=True, with_secret=True
        )
        accepted = otp is None or (
            method is not None
            and accept_code(method, otp, settings=rt.settings, by=current.entity_id) is not None
        )
        if accepted:
            await _turn_off(db, current, method)
    if not accepted:
        await rt.limiter.record_failure(client.ip, account=person.email, scope=OTP_SCOPE)
        raise Forbidden(INVALID_OTP)
    log.info("mfa disabled", extra={"event": "mfa_disabled", "person_id": person.entity_id})


async def _turn_off(db: AsyncSession, person: Person, method: OtpMethod | None) -> None:
    person.mfa_enabled = False
    person.changed_by_id = person.entity_id
    if method is not None:
        method.active = False
        method.changed_by_id = person.entity_id
    await recovery.retire_codes(db, person_id=person.entity_id)
    enqueue_email(db, event=messages.MFA_DISABLED, to=person.email, data=_mail_data(person))


def _mail_data(person: Person) -> dict[str, str | None]:
    return {"first_name": person.first_name}
