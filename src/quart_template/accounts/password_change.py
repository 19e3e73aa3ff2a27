"""Forgot, reset and update password: every change revokes sessions, ends pending second-factor
steps (`mfa_token`s) and notifies the owner."""

from __future__ import annotations

import hmac
import logging

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from quart_template.accounts import tokens
from quart_template.accounts.models import Person
from quart_template.accounts.passwords import check_password_policy, hash_password, verify_password
from quart_template.accounts.repository import get_person, get_person_by_email
from quart_template.db import new_entity_id, utcnow
from quart_template.email import messages
from quart_template.email.payload import notice_data
from quart_template.errors import BadRequest, Forbidden
from quart_template.events.outbox import enqueue_email
from quart_template.mfa.repository import end_challenges
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record, record_alone
from quart_template.sessions.proof import record_proof
from quart_template.sessions.service import revoke_all_sessions

log = logging.getLogger(__name__)

UPDATE_SCOPE = "update_password"
INVALID_RESET_LINK = "The reset link is invalid or has expired."
WRONG_EXISTING_PASSWORD = "The existing password is incorrect."
STAND_IN_ADDRESS = "nobody@stand-in.invalid"


async def send_reset_link(rt: Runtime, *, email: str, client: ClientInfo) -> None:
    """Email a reset link to a known address. An unknown one gets the same answer after the
    same work, so the time taken does not tell which addresses have accounts: the same lookup,
    a link signed for a stand-in, the same outbox INSERT and a committed write; only that row
    is withdrawn before the commit, so nobody is emailed."""
    await rt.limiter.guard_email_sending(client.ip, email, scope="forgot_password")
    async with rt.db() as db, db.begin():
        person = await get_person_by_email(db, email=email, with_password=True)
        recipient = person or _stand_in()
        data = notice_data(
            recipient.first_name, password_reset_url=tokens.reset_link(recipient, rt.settings)
        )
        message = enqueue_email(
            db,
            key=rt.settings.encryption_key,
            event=messages.RESET_PASSWORD,
            to=recipient.email,
            data=data,
        )
        if person is None:
            await db.flush()
            await db.delete(message)
    log.info(
        "reset requested",
        extra={
            "event": "reset_requested",
            "person_id": person.entity_id if person else None,
        },
    )


def _stand_in() -> Person:
    """A person who is never stored, to sign a (useless) link for when the address is unknown;
    the address itself is not written anywhere, not even in the withdrawn row."""
    return Person(entity_id=new_entity_id(), email=STAND_IN_ADDRESS, first_name=None)


async def reset_password(
    rt: Runtime, *, token: str, uidb64: str, password: str, client: ClientInfo
) -> None:
    """Set a new password from a reset link: single use, every session ends, nobody signs in."""
    payload = tokens.read_link(token, uidb64, purpose=tokens.RESET, settings=rt.settings)
    if payload is None:
        raise BadRequest(INVALID_RESET_LINK)
    async with rt.db() as db, db.begin():
        person = await _person_for_reset(db, rt, payload)
    problem = check_password_policy(password, email=person.email)
    if problem:
        raise BadRequest(problem)
    new_hash = await hash_password(password, settings=rt.settings)
    try:
        async with rt.db() as db, db.begin():
            # Checked again inside the writing transaction: two uses of one link, one wins.
            person = await _person_for_reset(db, rt, payload, for_update=True)
            _set_password(db, person, new_hash, key=rt.settings.encryption_key)
            if not person.verified:
                # The link came by email: the address is proven.
                person.verified, person.verified_on = True, utcnow()
            await revoke_all_sessions(db, person_id=person.entity_id, by=person.entity_id)
            await end_challenges(db, person_id=person.entity_id)
            record(db, "password_reset", person_id=person.entity_id, client=client)
    except StaleDataError:
        raise BadRequest(INVALID_RESET_LINK) from None
    # The mailbox proved the owner: a lock set by guesses lifts (the next login may begin).
    await rt.limiter.clear(person.email)


async def _person_for_reset(
    db: AsyncSession, rt: Runtime, payload: dict[str, str], *, for_update: bool = False
) -> Person:
    person = await get_person(db, entity_id=payload["p"], with_password=True, for_update=for_update)
    if person is None:
        raise BadRequest(INVALID_RESET_LINK)
    fingerprint = tokens.password_fingerprint(person, rt.settings)
    if not hmac.compare_digest(fingerprint, str(payload.get("f", ""))):
        raise BadRequest(INVALID_RESET_LINK)
    return person


async def update_password(
    rt: Runtime, *, person_id: str, session_id: str, existing: str, new: str, client: ClientInfo
) -> None:
    """Change a signed-in person's password after re-checking the old one (a proof for the
    session's step-up); other sessions end."""
    async with rt.db() as db, db.begin():
        person = await get_person(db, entity_id=person_id, with_password=True)
    if person is None:
        raise Forbidden(WRONG_EXISTING_PASSWORD)
    # Re-authentication comes first: only the holder of the old password learns whether the
    # new one meets the policy.
    await rt.limiter.guard_credentials(client.ip, account=person.email, scope=UPDATE_SCOPE)
    ok, _ = await verify_password(person.password_hash, existing, settings=rt.settings)
    if not ok:
        await rt.limiter.record_failure(client.ip, account=person.email, scope=UPDATE_SCOPE)
        await record_alone(
            rt, "reauth_failed", person_id=person_id, client=client, scope=UPDATE_SCOPE
        )
        raise Forbidden(WRONG_EXISTING_PASSWORD)
    problem = check_password_policy(new, email=person.email)
    if problem:
        raise BadRequest(problem)
    new_hash = await hash_password(new, settings=rt.settings)
    try:
        async with rt.db() as db, db.begin():
            current = await get_person(db, entity_id=person_id, with_password=True, for_update=True)
            if current is None or current.password_hash != person.password_hash:
                raise Forbidden(WRONG_EXISTING_PASSWORD)
            _set_password(db, current, new_hash, key=rt.settings.encryption_key)
            await revoke_all_sessions(db, person_id=person_id, by=person_id, keep=session_id)
            await record_proof(db, session_id=session_id)  # the old password was proved
            await end_challenges(db, person_id=person_id)
            record(db, "password_changed", person_id=person_id, client=client)
    except StaleDataError:
        raise Forbidden(WRONG_EXISTING_PASSWORD) from None


def _set_password(db: AsyncSession, person: Person, new_hash: str, *, key: bytes) -> None:
    person.password_hash = new_hash
    person.changed_by_id = person.entity_id
    enqueue_email(
        db,
        key=key,
        event=messages.PASSWORD_CHANGED,
        to=person.email,
        data=notice_data(person.first_name),
    )
