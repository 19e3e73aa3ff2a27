"""The password step of a login. Hashing runs outside any database transaction: on SQLite a
transaction holds the single write lock, and a hash takes tens of milliseconds.

A login is the costliest request after its hash, so its reads are lean: the person is read
once, before the hash; inside the write transaction one Core statement reads again only what
decides the step (the hash, MFA, whether a passkey exists), which may have changed meanwhile."""

from __future__ import annotations

import logging
from typing import NoReturn

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import Person
from quart_template.accounts.passwords import verify_password
from quart_template.accounts.repository import get_person, get_person_by_email
from quart_template.db import reader
from quart_template.errors import Unauthorized
from quart_template.passkeys.repository import active_passkey_exists
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import log_only, record, record_soon
from quart_template.signin.challenge import first_factor_passed
from quart_template.signin.outcomes import SignedIn, SignInOutcome

log = logging.getLogger(__name__)

LOGIN_SCOPE = "login"
BAD_CREDENTIALS = "Invalid email or password."

# What decides the step after the hash, read again inside the write: built once.
_DECIDING = select(
    Person.password_hash,
    Person.mfa_enabled,
    active_passkey_exists(Person.entity_id).label("has_passkey"),
)


async def log_in(rt: Runtime, *, email: str, password: str, client: ClientInfo) -> SignInOutcome:
    """Check the password (a dummy verify for unknown emails, so timing tells nothing), then a
    session, or the second-factor step for an MFA person."""
    await rt.limiter.guard_credentials(client.ip, account=email, scope=LOGIN_SCOPE)
    async with rt.db(bind=reader(rt.engine)) as db, db.begin():
        person = await get_person_by_email(db, email=email, with_password=True)
    stored = person.password_hash if person is not None else None
    ok, new_hash = await verify_password(stored, password, settings=rt.settings)
    if person is None or not ok:
        await _refuse(rt, person, email=email, client=client)
    async with rt.db() as db, db.begin():
        # The password may have changed (or been removed) while it was being checked.
        now = await _deciding(db, person_id=person.entity_id)
        if now is None or now.password_hash != stored:
            raise Unauthorized(BAD_CREDENTIALS)
        current = person
        if new_hash is not None or now.mfa_enabled != person.mfa_enabled:
            # Rare: a rehash to store, or MFA changed during the hash (the person as it is).
            found = await get_person(db, entity_id=person.entity_id, with_password=True)
            if found is None:
                raise Unauthorized(BAD_CREDENTIALS)
            current = found
        if new_hash is not None:
            current = await _store_rehash(db, current, new_hash=new_hash)
        outcome = await first_factor_passed(
            db,
            settings=rt.settings,
            person=current,
            method="password",
            client=client,
            has_passkey=now.has_passkey,
        )
        event = "login_succeeded" if isinstance(outcome, SignedIn) else "login_mfa_required"
        record(db, event, person_id=current.entity_id, client=client, factor="password")
    if isinstance(outcome, SignedIn):
        # Every factor passed; a password step still waiting for the second one clears nothing.
        await rt.limiter.clear(current.email)
    return outcome


async def _deciding(db: AsyncSession, *, person_id: str) -> Row[str | None, bool, bool] | None:
    """The active person's password hash, MFA flag and whether a passkey exists (one row)."""
    query = _DECIDING.where(Person.entity_id == person_id, Person.active.is_(True))
    return (await db.execute(query)).first()


async def _refuse(
    rt: Runtime, person: Person | None, *, email: str, client: ClientInfo
) -> NoReturn:
    """Count the failure, record it in the person's history when there is one, and 401."""
    await rt.limiter.record_failure(client.ip, account=email, scope=LOGIN_SCOPE)
    if person is None:
        log_only("login_failed", client=client, reason="unknown_email")
    else:
        record_soon(
            rt, "login_failed", person_id=person.entity_id, client=client, reason="wrong_password"
        )
    raise Unauthorized(BAD_CREDENTIALS)


async def _store_rehash(db: AsyncSession, current: Person, *, new_hash: str) -> Person:
    """Upgrade a hash made with old parameters (or a legacy scheme)."""
    current.password_hash = new_hash
    current.changed_by_id = current.entity_id
    await db.flush()
    log.info(
        "password rehashed", extra={"event": "password_rehashed", "person_id": current.entity_id}
    )
    return current
