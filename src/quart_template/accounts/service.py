"""Sign-up, email verification and login: the rules, in one place.

Password hashing runs outside any database transaction: on SQLite a transaction holds the
single write lock, and a hash takes tens of milliseconds.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from quart_template.accounts import tokens
from quart_template.accounts.models import LoginMethod, Person
from quart_template.accounts.passwords import check_password_policy, hash_password, verify_password
from quart_template.accounts.repository import add_person, get_person, get_person_by_email
from quart_template.accounts.schemas import SignupRequest
from quart_template.accounts.serializers import mfa_pending_object, user_object
from quart_template.db import reader, utcnow
from quart_template.email import messages
from quart_template.errors import BadRequest, Unauthorized
from quart_template.events.outbox import enqueue_email
from quart_template.mfa.challenge import begin_second_factor
from quart_template.ratelimit import (
    guard_credentials,
    guard_email_sending,
    may_notify,
    record_credential_failure,
)
from quart_template.runtime import Runtime
from quart_template.sessions.service import issue_session

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "Invalid email or password."
INVALID_CONFIRMATION_LINK = "The confirmation link is invalid or has expired."
ALREADY_CONFIRMED = "Account already confirmed. Please login."
CONFIRMED = "You have confirmed your account. Thanks!"


async def sign_up(rt: Runtime, *, data: SignupRequest) -> None:
    """Create the person, or, for a known email, tell its owner: the caller sees no difference."""
    problem = check_password_policy(data.password, email=data.email)
    if problem:
        raise BadRequest(problem)
    # Hashed for known emails too, so the answer takes as long either way.
    password_hash = await hash_password(data.password, settings=rt.settings)
    notify = await may_notify(data.email)
    try:
        async with rt.db() as db, db.begin():
            existing = await get_person_by_email(db, email=data.email)
            if existing is not None:
                if notify:
                    _tell_owner(db, rt, existing)
                return
            person = add_person(
                db,
                email=data.email,
                first_name=data.first_name,
                last_name=data.last_name,
                password_hash=password_hash,
            )
            await db.flush()
            db.add(
                LoginMethod(
                    person_id=person.entity_id, provider="signup", changed_by_id=person.entity_id
                )
            )
            _send_link(db, rt, person, event=messages.USER_CREATED)
    except IntegrityError:
        # A concurrent sign-up of the same email won the unique `email_key`.
        async with rt.db() as db, db.begin():
            existing = await get_person_by_email(db, email=data.email)
            if existing is not None and notify:
                _tell_owner(db, rt, existing)
        return
    log.info("signup", extra={"event": "signup", "person_id": person.entity_id})


def _send_link(db: AsyncSession, rt: Runtime, person: Person, *, event: str) -> None:
    link = tokens.verification_link(person, rt.settings)
    enqueue_email(
        db, event=event, to=person.email, data={"link": link, "first_name": person.first_name}
    )


def _tell_owner(db: AsyncSession, rt: Runtime, person: Person) -> None:
    data = {"link": tokens.login_link(rt.settings), "first_name": person.first_name}
    enqueue_email(db, event=messages.ACCOUNT_EXISTS, to=person.email, data=data)
    log.info(
        "signup of a known email", extra={"event": "signup_existing", "person_id": person.entity_id}
    )


async def verify_email(
    rt: Runtime, *, token: str, uidb64: str, ip: str | None, user_agent: str | None
) -> dict[str, Any]:
    """Confirm the address and sign the person in; each link works once."""
    payload = tokens.read_link(token, uidb64, purpose=tokens.VERIFY, settings=rt.settings)
    if payload is None:
        raise BadRequest(INVALID_CONFIRMATION_LINK)
    try:
        async with rt.db() as db, db.begin():
            person = await get_person(db, entity_id=payload["p"], for_update=True)
            if person is None or payload.get("e") != person.email_key:
                raise BadRequest(INVALID_CONFIRMATION_LINK)
            if person.verified:
                raise BadRequest(ALREADY_CONFIRMED)
            person.verified = True
            person.verified_on = utcnow()
            person.changed_by_id = person.entity_id
            await db.flush()
            if person.mfa_enabled:
                # A link from a mailbox is no second factor: this person signs in normally.
                user = mfa_pending_object(person)
            else:
                issued = await issue_session(
                    db, settings=rt.settings, person=person, ip=ip, user_agent=user_agent
                )
                user = user_object(person, issued)
    except StaleDataError:
        raise BadRequest(ALREADY_CONFIRMED) from None
    log.info("email verified", extra={"event": "email_verified", "person_id": person.entity_id})
    return {"success": True, "message": CONFIRMED, "user": user}


async def resend_confirmation(rt: Runtime, *, email: str) -> None:
    """A fresh verification link for an unverified person; known or not, the same answer."""
    await guard_email_sending(email, scope="resend_confirmation")
    async with rt.db() as db, db.begin():
        person = await get_person_by_email(db, email=email)
        if person is not None and not person.verified:
            _send_link(db, rt, person, event=messages.RESEND_CONFIRMATION)


async def log_in(
    rt: Runtime, *, email: str, password: str, ip: str | None, user_agent: str | None
) -> dict[str, Any]:
    """Check the password (a dummy verify for unknown emails), then a token or the MFA step."""
    await guard_credentials(account=email, scope="login")
    async with rt.db(bind=reader(rt.engine)) as db, db.begin():
        person = await get_person_by_email(db, email=email, with_password=True)
    stored = person.password_hash if person is not None else None
    ok, new_hash = await verify_password(stored, password, settings=rt.settings)
    if person is None or not ok:
        await record_credential_failure(account=email, scope="login")
        reason = "unknown_email" if person is None else "wrong_password"
        log.info("login failed", extra={"event": "login_failed", "reason": reason, "ip": ip})
        raise Unauthorized(BAD_CREDENTIALS)
    async with rt.db() as db, db.begin():
        if new_hash is not None:
            person = await _store_rehash(db, person, old_hash=stored, new_hash=new_hash)
        if person.mfa_enabled:
            body = await begin_second_factor(
                db, settings=rt.settings, person=person, method="password"
            )
        else:
            issued = await issue_session(
                db, settings=rt.settings, person=person, ip=ip, user_agent=user_agent
            )
            body = {"success": True, "user": user_object(person, issued)}
    event = "login_mfa_required" if person.mfa_enabled else "login_succeeded"
    log.info("login", extra={"event": event, "person_id": person.entity_id, "ip": ip})
    return body


async def _store_rehash(
    db: AsyncSession, person: Person, *, old_hash: str | None, new_hash: str
) -> Person:
    """Upgrade a hash made with old parameters (or a legacy scheme), unless it changed meanwhile."""
    current = await get_person(db, entity_id=person.entity_id, with_password=True)
    if current is None or current.password_hash != old_hash:
        return current or person
    current.password_hash = new_hash
    current.changed_by_id = current.entity_id
    await db.flush()
    log.info(
        "password rehashed", extra={"event": "password_rehashed", "person_id": current.entity_id}
    )
    return current
