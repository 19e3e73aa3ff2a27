"""Turning MFA on and off: on with an unspent code of the confirmed method (with a recent proof
in the session), off with an unspent code or the password (which prove the caller)."""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import Person
from quart_template.db import reader
from quart_template.email import messages
from quart_template.email.payload import notice_data
from quart_template.errors import BadRequest, Conflict, Forbidden
from quart_template.events.outbox import enqueue_email
from quart_template.mfa import recovery, repository
from quart_template.mfa.checks import (
    OTP_SCOPE,
    accept_code,
    accept_confirming_code,
    check_password,
    forget_confirmation,
)
from quart_template.mfa.models import OtpMethod
from quart_template.mfa.service import (
    ALREADY_ENABLED,
    INVALID_OTP,
    NOT_ENABLED,
    NOT_VERIFIED,
    lock_person,
)
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record, record_alone
from quart_template.sessions.caller import PersonSummary, SessionSummary
from quart_template.sessions.proof import record_proof, require_recent_proof


async def enable_mfa(
    rt: Runtime, *, person: PersonSummary, session: SessionSummary, otp: str, client: ClientInfo
) -> None:
    """Turn MFA on with an unspent code from the confirmed method, or once with the code that
    confirmed it (shortly after). The code comes from the app just set up, so it proves
    nothing about the caller: the session's proof must be recent."""
    async with rt.db(bind=reader(rt.engine)) as db:
        await require_recent_proof(db, session_id=session.entity_id, settings=rt.settings)
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
            record(db, "mfa_enabled", person_id=current.entity_id, client=client)
            enqueue_email(
                db,
                key=rt.settings.encryption_key,
                event=messages.MFA_ENABLED,
                to=current.email,
                data=notice_data(current.first_name),
            )
    if not accepted:
        await _refuse(rt, person, client)


async def disable_mfa(
    rt: Runtime,
    *,
    person: PersonSummary,
    session: SessionSummary,
    otp: str | None,
    password: str | None,
    client: ClientInfo,
) -> None:
    """Turn MFA off with an unspent code (preferred when both are given) or the password, which
    also proves the caller; the OTP method and recovery codes are retired with it."""
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
            await _turn_off(db, current, method, key=rt.settings.encryption_key)
            await record_proof(db, session_id=session.entity_id)
            record(db, "mfa_disabled", person_id=current.entity_id, client=client)
    if not accepted:
        await _refuse(rt, person, client)


async def _refuse(rt: Runtime, person: PersonSummary, client: ClientInfo) -> NoReturn:
    """A wrong code from a signed-in person: counted, in their history, 403."""
    await rt.limiter.record_failure(client.ip, account=person.email, scope=OTP_SCOPE)
    await record_alone(rt, "mfa_code_refused", person_id=person.entity_id, client=client)
    raise Forbidden(INVALID_OTP)


async def _turn_off(
    db: AsyncSession, person: Person, method: OtpMethod | None, *, key: bytes
) -> None:
    person.mfa_enabled = False
    person.changed_by_id = person.entity_id
    if method is not None:
        method.active = False
        method.changed_by_id = person.entity_id
    await recovery.retire_codes(db, person_id=person.entity_id)
    enqueue_email(
        db,
        key=key,
        event=messages.MFA_DISABLED,
        to=person.email,
        data=notice_data(person.first_name),
    )
