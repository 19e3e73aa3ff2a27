"""Sign-up and email verification (login is in `signin`).

Password hashing runs outside any database transaction: on SQLite a transaction holds the
single write lock, and a hash takes tens of milliseconds.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from quart_template.accounts import tokens
from quart_template.accounts.models import LoginMethod, Person
from quart_template.accounts.passwords import check_password_policy, hash_password
from quart_template.accounts.repository import add_person, get_person, get_person_by_email
from quart_template.accounts.schemas import SignupRequest
from quart_template.db import utcnow
from quart_template.email import messages
from quart_template.email.payload import notice_data
from quart_template.errors import BadRequest
from quart_template.events.outbox import enqueue_email
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record
from quart_template.sessions.service import issue_session
from quart_template.signin.outcomes import SecondFactorNeeded, SignedIn, SignInOutcome

log = logging.getLogger(__name__)

INVALID_CONFIRMATION_LINK = "The confirmation link is invalid or has expired."
ALREADY_CONFIRMED = "Account already confirmed. Please login."
CONFIRMED = "You have confirmed your account. Thanks!"


async def sign_up(rt: Runtime, *, data: SignupRequest, client: ClientInfo) -> None:
    """Create the person, or, for a known email, tell its owner: the caller sees no difference."""
    await rt.limiter.guard_signup(client.ip)
    problem = check_password_policy(data.password, email=data.email)
    if problem:
        raise BadRequest(problem)
    # Hashed for known emails too, so the answer takes as long either way.
    password_hash = await hash_password(data.password, settings=rt.settings)
    notify = await rt.limiter.may_notify(data.email)
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
            _send_link(db, rt, person)
    except IntegrityError:
        # A concurrent sign-up of the same email won the unique `email_key`.
        async with rt.db() as db, db.begin():
            existing = await get_person_by_email(db, email=data.email)
            if existing is not None and notify:
                _tell_owner(db, rt, existing)
        return
    log.info("signup", extra={"event": "signup", "person_id": person.entity_id})


def _send_link(db: AsyncSession, rt: Runtime, person: Person) -> None:
    """The verification email: USER_CREATED for a sign-up and a resend alike (as Flask
    Template sent it, the only name the email-transmitter knows for it)."""
    link = tokens.verification_link(person, rt.settings)
    enqueue_email(
        db,
        key=rt.settings.encryption_key,
        event=messages.USER_CREATED,
        to=person.email,
        data=notice_data(person.first_name, confirmation_link=link),
    )


def _tell_owner(db: AsyncSession, rt: Runtime, person: Person) -> None:
    data = notice_data(person.first_name, login_link=tokens.login_link(rt.settings))
    enqueue_email(
        db,
        key=rt.settings.encryption_key,
        event=messages.ACCOUNT_EXISTS,
        to=person.email,
        data=data,
    )
    log.info(
        "signup of a known email", extra={"event": "signup_existing", "person_id": person.entity_id}
    )


async def verify_email(
    rt: Runtime, *, token: str, uidb64: str, client: ClientInfo
) -> SignInOutcome:
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
            record(db, "email_verified", person_id=person.entity_id, client=client)
            outcome: SignInOutcome
            if person.mfa_enabled:
                # A link from a mailbox is no second factor: this person signs in normally.
                outcome = SecondFactorNeeded(person=person)
            else:
                issued = await issue_session(db, settings=rt.settings, person=person, client=client)
                outcome = SignedIn(person=person, token=issued)
                record(
                    db,
                    "login_succeeded",
                    person_id=person.entity_id,
                    client=client,
                    factor="email_link",
                )
    except StaleDataError:
        raise BadRequest(ALREADY_CONFIRMED) from None
    if isinstance(outcome, SignedIn):
        await rt.limiter.clear(person.email)
    return outcome


async def resend_confirmation(rt: Runtime, *, email: str, client: ClientInfo) -> None:
    """A fresh verification link for an unverified person; known or not, the same answer."""
    await rt.limiter.guard_email_sending(client.ip, email, scope="resend_confirmation")
    async with rt.db() as db, db.begin():
        person = await get_person_by_email(db, email=email)
        if person is not None and not person.verified:
            _send_link(db, rt, person)
