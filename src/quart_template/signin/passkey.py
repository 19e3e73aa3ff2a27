"""Signing in with a passkey: the request options (for an email, for any discoverable passkey,
or for the second factor of a login in progress), and the assertion that answers them. A
passkey with user verification is a whole sign-in; without it, it is a first factor like a
password: an MFA person then still gives a TOTP or recovery code (`mfa_token`)."""

from __future__ import annotations

import secrets
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from webauthn.helpers.structs import UserVerificationRequirement

from quart_template.accounts.models import Person, normalise_email
from quart_template.accounts.repository import get_person, get_person_by_email
from quart_template.db import utcnow
from quart_template.errors import BadRequest, Unauthorized
from quart_template.mfa.repository import lock_person
from quart_template.passkeys import ceremony
from quart_template.passkeys import repository as passkeys
from quart_template.passkeys.ceremony import Assertion, CeremonyFailed, CounterWentBack
from quart_template.passkeys.models import Passkey
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import log_only, record, record_alone
from quart_template.sessions.service import issue_session
from quart_template.signin.challenge import PASSKEY, find_challenge, first_factor_passed
from quart_template.signin.outcomes import SignedIn, SignInOutcome

PASSKEY_SCOPE = "passkey"
LOGIN = "login"
SECOND_FACTOR = "second_factor"

INVALID_PASSKEY = "Invalid passkey."
NO_CHALLENGE = "The passkey challenge is unknown, used or expired: ask for new options."
NO_LOGIN = "Please log in with your password first."
NO_PASSKEY = "You have no passkey: finish with a code from your authenticator app."
PASSKEY_WAS_FIRST = (
    "A passkey was your first factor: finish with a code from your authenticator app or a "
    "recovery code."
)


async def login_options(rt: Runtime, *, email: str | None, client: ClientInfo) -> dict[str, Any]:
    """Options for signing in: with `email`, its person's passkeys (or, for an address with
    none, a decoy that looks the same); without, any passkey the authenticator holds."""
    await rt.limiter.guard_passkey_options(client.ip)
    challenge = secrets.token_bytes(32)
    async with rt.db() as db, db.begin():
        allowed = []
        if email is not None:
            person = await get_person_by_email(db, email=email)
            # Read for an unknown address too: the answer takes as long either way.
            found = await passkeys.list_passkeys(
                db, person_id=person.entity_id if person is not None else ""
            )
            allowed = [ceremony.descriptor(p) for p in found] or [
                ceremony.decoy_descriptor(rt.settings, normalise_email(email))
            ]
        passkeys.add_challenge(db, challenge=challenge, purpose=LOGIN)
    return ceremony.authentication_options(
        rt.settings,
        challenge=challenge,
        allowed=allowed,
        user_verification=UserVerificationRequirement.PREFERRED,
    )


async def second_factor_options(
    rt: Runtime, *, mfa_token: str, client: ClientInfo
) -> dict[str, Any]:
    """Options for the second factor of the login `mfa_token` names: the person's passkeys,
    user verification not asked (the password was the first factor)."""
    await rt.limiter.guard_passkey_options(client.ip)
    challenge = secrets.token_bytes(32)
    async with rt.db() as db, db.begin():
        pending = await find_challenge(
            db, settings=rt.settings, mfa_token=mfa_token, person_id=None
        )
        if pending is None:
            raise Unauthorized(NO_LOGIN)
        if pending.method == PASSKEY:
            raise BadRequest(PASSKEY_WAS_FIRST)
        found = await passkeys.list_passkeys(db, person_id=pending.person_id)
        if not found:
            raise BadRequest(NO_PASSKEY)
        passkeys.add_challenge(
            db,
            challenge=challenge,
            purpose=SECOND_FACTOR,
            person_id=pending.person_id,
            mfa_challenge=pending.id_hash,
        )
    return ceremony.authentication_options(
        rt.settings,
        challenge=challenge,
        allowed=[ceremony.descriptor(p) for p in found],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )


async def log_in_with_passkey(
    rt: Runtime, *, credential: dict[str, Any], client: ClientInfo
) -> SignInOutcome:
    """A session for a verified passkey (the challenge is spent by this, whatever the outcome),
    or for an MFA person whose authenticator did not verify them, the second-factor step."""
    assertion = await read(rt, credential, client, account=None)
    async with rt.db() as db, db.begin():
        spent = await passkeys.spend_challenge(db, challenge=assertion.challenge, purpose=LOGIN)
        found = await passkeys.find_by_credential(db, credential_key=assertion.credential_key)
        person = None if found is None else await get_person(db, entity_id=found.person_id)
    if not spent:
        await refuse(rt, client, NO_CHALLENGE, person_id=None, account=None, reason="challenge")
    if person is None:
        await refuse(rt, client, INVALID_PASSKEY, person_id=None, account=None, reason="unknown")
    await rt.limiter.guard_credentials(client.ip, account=person.email, scope=PASSKEY_SCOPE)
    try:
        async with rt.db() as db, db.begin():
            current = await lock_person(db, person_id=person.entity_id)
            passkey = await locked_passkey(db, assertion, person_id=person.entity_id)
            if current is None or passkey is None:
                raise CeremonyFailed("the passkey or its owner is gone")
            verified = use(rt, assertion, passkey)
            outcome = await _signed_in(db, rt, current, verified.user_verified, client)
    except CeremonyFailed as failure:
        await refused_assertion(rt, client, failure, person=person)
    except StaleDataError:  # removed meanwhile (on SQLite, which has no row locks)
        await refused_assertion(rt, client, CeremonyFailed("removed meanwhile"), person=person)
    if isinstance(outcome, SignedIn):
        await rt.limiter.clear(person.email)
    return outcome


async def locked_passkey(
    db: AsyncSession, assertion: Assertion, *, person_id: str
) -> Passkey | None:
    """The assertion's passkey if it is the person's, locked: two sign-ins with one credential
    check its counter one after the other."""
    passkey = await passkeys.find_by_credential(
        db, credential_key=assertion.credential_key, lock=True
    )
    return passkey if passkey is not None and passkey.person_id == person_id else None


async def _signed_in(
    db: AsyncSession, rt: Runtime, person: Person, user_verified: bool, client: ClientInfo
) -> SignInOutcome:
    """With user verification: a session; without, the passkey counts as a first factor."""
    if user_verified:
        token = await issue_session(db, settings=rt.settings, person=person, client=client)
        record(db, "login_succeeded", person_id=person.entity_id, client=client, factor=PASSKEY)
        return SignedIn(person=person, token=token, login_method=PASSKEY)
    outcome = await first_factor_passed(
        db,
        settings=rt.settings,
        person=person,
        method=PASSKEY,
        client=client,
        login_method=PASSKEY,
    )
    event = "login_succeeded" if isinstance(outcome, SignedIn) else "login_mfa_required"
    record(db, event, person_id=person.entity_id, client=client, factor="passkey_unverified")
    return outcome


async def read(
    rt: Runtime, credential: dict[str, Any], client: ClientInfo, *, account: str | None
) -> Assertion:
    """The parsed assertion, or 401 (counted)."""
    try:
        return ceremony.read_assertion(credential)
    except CeremonyFailed:
        await refuse(rt, client, INVALID_PASSKEY, person_id=None, account=account, reason="form")


def use(rt: Runtime, assertion: Assertion, passkey: Passkey) -> ceremony.Verified:
    """Verify the assertion against `passkey` (locked) and keep its new counter, backup state
    and last use."""
    verified = ceremony.verify_assertion(rt.settings, assertion, passkey)
    passkey.sign_count = verified.sign_count
    passkey.backed_up = verified.backed_up
    passkey.last_used_at = utcnow()
    return verified


async def refused_assertion(
    rt: Runtime, client: ClientInfo, failure: CeremonyFailed, *, person: Person
) -> NoReturn:
    """An assertion for a known passkey that did not verify: counted against the account;
    a counter that went back is its own event (a cloned authenticator, maybe)."""
    reason = str(failure)[:200]
    if isinstance(failure, CounterWentBack):
        await record_alone(
            rt,
            "passkey_counter_regressed",
            person_id=person.entity_id,
            client=client,
            reason=reason,
        )
    await refuse(
        rt,
        client,
        INVALID_PASSKEY,
        person_id=person.entity_id,
        account=person.email,
        reason=reason,
    )


async def refuse(
    rt: Runtime,
    client: ClientInfo,
    message: str,
    *,
    person_id: str | None,
    account: str | None,
    reason: str,
) -> NoReturn:
    """Count the failure (per client IP, and per account when the passkey's owner is known),
    record it, and 401."""
    await rt.limiter.record_failure(client.ip, account=account, scope=PASSKEY_SCOPE)
    if person_id is None:
        log_only("login_failed", client=client, factor=PASSKEY, reason=reason)
    else:
        await record_alone(
            rt, "login_failed", person_id=person_id, client=client, factor=PASSKEY, reason=reason
        )
    raise Unauthorized(message)
