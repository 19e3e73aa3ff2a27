"""The linking rules: who a verified provider account signs in, links to, or takes over. Each
sign-in is one transaction (never a half-created person); a race with a concurrent first
sign-in of the same account loses on a unique key and is retried, finding the winner's row."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from quart_template.accounts.models import Person
from quart_template.accounts.repository import add_person, get_person, get_person_by_email
from quart_template.db import utcnow
from quart_template.email.messages import SOCIAL_LINKED
from quart_template.email.payload import provider_data
from quart_template.errors import BadRequest, Conflict, Forbidden, Unauthorized
from quart_template.events.outbox import enqueue_email
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record
from quart_template.sessions.caller import Caller
from quart_template.sessions.proof import record_proof, require_recent_proof
from quart_template.sessions.service import IssuedToken
from quart_template.signin.challenge import first_factor_passed
from quart_template.signin.outcomes import SignedIn, SignInOutcome
from quart_template.social import repository as repo
from quart_template.social.providers.base import Identity
from quart_template.social.takeover import take_over
from quart_template.social.transactions import retryable

log = logging.getLogger(__name__)

ATTEMPTS = 5
TITLES = {"github": "GitHub", "google": "Google", "linkedin": "LinkedIn", "facebook": "Facebook"}


def title(provider: str) -> str:
    return TITLES.get(provider, provider)


async def sign_in_with(
    rt: Runtime,
    *,
    identity: Identity,
    caller: Caller | None,
    presented_token: str | None,
    client: ClientInfo,
) -> SignInOutcome:
    """Link to the caller, or sign in (creating or linking a person)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with rt.db() as db, db.begin():
                if caller is not None and presented_token is not None:
                    return await _link_to_caller(db, rt, identity, caller, presented_token, client)
                person = await _person_for(db, rt, identity, client)
                outcome = await first_factor_passed(
                    db,
                    settings=rt.settings,
                    person=person,
                    method=identity.provider,
                    client=client,
                    login_method=identity.provider,
                )
                event = "login_succeeded" if isinstance(outcome, SignedIn) else "login_mfa_required"
                record(
                    db, event, person_id=person.entity_id, client=client, factor=identity.provider
                )
            if isinstance(outcome, SignedIn):  # a token issued: every factor passed
                await rt.limiter.clear(person.email)
            return outcome
        except (IntegrityError, StaleDataError, OperationalError) as exc:
            if not retryable(exc):
                raise
            if attempt == ATTEMPTS:
                raise Conflict("Another sign-in changed this account, please try again.") from None
            log.info("social sign-in raced, retrying", extra={"event": "social_retry"})
    raise AssertionError("unreachable")


async def _link_to_caller(
    db: AsyncSession,
    rt: Runtime,
    identity: Identity,
    caller: Caller,
    token: str,
    client: ClientInfo,
) -> SignedIn:
    """Signed in: an account already linked to the caller proves them again (how people without
    a password re-authenticate); a new one joins their login methods, with a recent proof in
    the session (409 if it is somebody else's)."""
    existing = await repo.get_by_identity(db, identity_key=identity.identity_key)
    person = await get_person(db, entity_id=caller.person.entity_id)
    if person is None:
        raise Unauthorized("Invalid or expired access token.")
    if existing is not None and existing.person_id == person.entity_id:
        repo.refresh_from(existing, identity, key=rt.settings.encryption_key)
        existing.changed_by_id = person.entity_id
        await record_proof(db, session_id=caller.session.entity_id)
        record(
            db,
            "reauthenticated",
            person_id=person.entity_id,
            client=client,
            factor=identity.provider,
        )
    else:
        await require_recent_proof(db, session_id=caller.session.entity_id, settings=rt.settings)
        if existing is not None:
            raise Conflict(f"This {title(identity.provider)} account is linked to another user.")
        await _link(db, rt, person, identity, client)
    await db.flush()
    # Linking is not a new login: the caller keeps the token they came with.
    current = IssuedToken(access_token=token, session=caller.session)
    return SignedIn(person=person, token=current, login_method=identity.provider)


async def _person_for(
    db: AsyncSession, rt: Runtime, identity: Identity, client: ClientInfo
) -> Person:
    """Signed out: the account's owner; else the verified-email owner; else a new person."""
    existing = await repo.get_by_identity(db, identity_key=identity.identity_key)
    if existing is not None:
        person = await get_person(db, entity_id=existing.person_id)
        if person is None:
            raise Forbidden("This account is disabled.")
        repo.refresh_from(existing, identity, key=rt.settings.encryption_key)
        existing.changed_by_id = person.entity_id
        return person
    if identity.email is None or len(identity.email) > 320:
        raise BadRequest(
            f"Your {title(identity.provider)} account has no email address we can use; "
            "add one there, or sign up with email and password."
        )
    owner = await get_person_by_email(db, email=identity.email, with_password=True)
    if owner is not None:
        return await _link_by_email(db, rt, owner, identity, client)
    return await _new_person(db, rt, identity)


async def _link_by_email(
    db: AsyncSession, rt: Runtime, person: Person, identity: Identity, client: ClientInfo
) -> Person:
    """Only an address the provider verified proves the same owner. A verified person keeps
    everything and gains a login method; an unverified one is taken over by the provider's
    user (whoever set it up never proved the address)."""
    if not identity.email_verified:
        raise Conflict(
            "An account with this email already exists. Sign in to it first, then link "
            f"your {title(identity.provider)} account."
        )
    if person.verified:
        await _link(db, rt, person, identity, client)
    else:
        await take_over(db, rt, person, identity, client)
    return person


async def _new_person(db: AsyncSession, rt: Runtime, identity: Identity) -> Person:
    assert identity.email is not None
    person = add_person(
        db,
        email=identity.email,
        first_name=_name(identity.first_name),
        last_name=_name(identity.last_name),
        password_hash=None,
        verified=identity.email_verified,
    )
    if identity.email_verified:
        person.verified_on = utcnow()
    await db.flush()  # the person row first: the method and session refer to it
    # The session issued next flushes the method with it, one round trip fewer.
    repo.add_login_method(
        db, person=person, identity=identity, key=rt.settings.encryption_key, by=person.entity_id
    )
    return person


async def _link(
    db: AsyncSession, rt: Runtime, person: Person, identity: Identity, client: ClientInfo
) -> None:
    """A login method for an existing person, and a notice to their inbox."""
    await repo.link_method(
        db, person=person, identity=identity, key=rt.settings.encryption_key, by=person.entity_id
    )
    enqueue_email(
        db,
        key=rt.settings.encryption_key,
        event=SOCIAL_LINKED,
        to=person.email,
        data=provider_data(person.first_name, identity.provider),
    )
    record(
        db, "social_linked", person_id=person.entity_id, client=client, provider=identity.provider
    )


def _name(value: str | None) -> str | None:
    return value[:120] if value else None
