"""A signed-in person's passkeys: the registration ceremony (options, then the verified
credential stored), the list, and removal (never the last way to sign in). Adding and removing
one are factor changes: each needs a recent proof (the views' `@recent_auth_required`), is a
security event, and emails the owner (so counts against the email limits)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import Person
from quart_template.email import messages
from quart_template.email.payload import notice_data
from quart_template.errors import BadRequest, Conflict, Unauthorized
from quart_template.events.outbox import enqueue_email
from quart_template.passkeys import ceremony
from quart_template.passkeys import repository as repo
from quart_template.passkeys.models import Passkey
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record, record_alone
from quart_template.sessions.caller import PersonSummary
from quart_template.social import repository as social_repo
from quart_template.social.methods import LAST_METHOD

REGISTER = "register"
ADD_SCOPE = "passkey_added"
REMOVE_SCOPE = "passkey_removed"
MAX_PASSKEYS = 20
DEFAULT_NAME = "Passkey"

TOO_MANY = f"You have {MAX_PASSKEYS} passkeys: remove one before adding another."
NO_CHALLENGE = "The passkey challenge is unknown, used or expired: ask for new options."
NOT_VERIFIED = "The passkey could not be verified."
ALREADY_REGISTERED = "This passkey is already registered."


def passkey_item(passkey: Passkey) -> dict[str, Any]:
    """A passkey as the owner sees it."""
    last_used = passkey.last_used_at
    return {
        "id": passkey.entity_id,
        "name": passkey.name,
        "created": int(passkey.created_at.timestamp()),
        "last_used": None if last_used is None else int(last_used.timestamp()),
    }


async def registration_options(
    rt: Runtime, *, person: PersonSummary, client: ClientInfo
) -> dict[str, Any]:
    """The creation options for a new passkey of the caller, its challenge stored (5 minutes,
    single use); 409 at MAX_PASSKEYS."""
    await rt.limiter.guard_passkey_options(client.ip)
    challenge = secrets.token_bytes(32)
    async with rt.db() as db, db.begin():
        existing = await repo.list_passkeys(db, person_id=person.entity_id)
        if len(existing) >= MAX_PASSKEYS:
            raise Conflict(TOO_MANY)
        repo.add_challenge(db, challenge=challenge, purpose=REGISTER, person_id=person.entity_id)
        names = " ".join(n for n in (person.first_name, person.last_name) if n)
        return ceremony.registration_options(
            rt.settings,
            person_id=person.entity_id,
            email=person.email,
            display_name=names or person.email,
            challenge=challenge,
            existing=existing,
        )


async def register(
    rt: Runtime,
    *,
    person: PersonSummary,
    credential: dict[str, Any],
    name: str | None,
    client: ClientInfo,
) -> Passkey:
    """Verify the authenticator's answer to the caller's live challenge (spent by this, even
    when the answer fails) and store the passkey; the owner is told."""
    try:
        parsed, challenge = ceremony.read_registration(credential)
    except ceremony.CeremonyFailed as exc:
        await _refused(rt, client, person, str(exc))
        raise BadRequest(NOT_VERIFIED) from None
    async with rt.db() as db, db.begin():
        spent = await repo.spend_challenge(
            db, challenge=challenge, purpose=REGISTER, person_id=person.entity_id
        )
    if not spent:
        raise BadRequest(NO_CHALLENGE)
    try:
        new = ceremony.verify_registration(rt.settings, parsed, challenge=challenge)
    except ceremony.CeremonyFailed as exc:
        await _refused(rt, client, person, str(exc))
        raise BadRequest(NOT_VERIFIED) from None
    await rt.limiter.guard_email_sending(client.ip, person.email, scope=ADD_SCOPE)
    async with rt.db() as db, db.begin():
        owner = await _lock_person(db, person.entity_id)
        if await repo.find_by_credential(db, credential_key=new.credential_key) is not None:
            raise Conflict(ALREADY_REGISTERED)
        if len(await repo.list_passkeys(db, person_id=owner.entity_id)) >= MAX_PASSKEYS:
            raise Conflict(TOO_MANY)
        passkey = repo.add_passkey(
            db, person_id=owner.entity_id, name=(name or "").strip() or DEFAULT_NAME, new=new
        )
        await db.flush()
        record(db, "passkey_added", person_id=owner.entity_id, client=client)
        _notify(db, rt, owner, event=messages.PASSKEY_ADDED, passkey=passkey)
    return passkey


async def list_passkeys(rt: Runtime, *, person_id: str) -> list[dict[str, Any]]:
    async with rt.db() as db, db.begin():
        return [passkey_item(p) for p in await repo.list_passkeys(db, person_id=person_id)]


async def remove(rt: Runtime, *, person_id: str, entity_id: str, client: ClientInfo) -> None:
    """Soft-delete one of the caller's passkeys; 409 when nothing would be left to sign in
    with (no password, no provider account, no other passkey)."""
    async with rt.db() as db, db.begin():
        # The person first (the order of every write of their ways to sign in), so two
        # concurrent removals cannot each count the other as a way left.
        person = await _lock_person(db, person_id)
        passkey = await repo.get_owned(db, entity_id=entity_id, person_id=person_id)
        if passkey is None:
            raise BadRequest(f"This user doesn't have passkey {entity_id}")
        others = [p for p in await repo.list_passkeys(db, person_id=person_id) if p is not passkey]
        if not others and not await _other_ways(db, person):
            raise Conflict(LAST_METHOD)
        await rt.limiter.guard_email_sending(client.ip, person.email, scope=REMOVE_SCOPE)
        repo.soft_delete(passkey, by=person_id)
        record(db, "passkey_removed", person_id=person_id, client=client)
        _notify(db, rt, person, event=messages.PASSKEY_REMOVED, passkey=passkey)


async def _other_ways(db: AsyncSession, person: Person) -> bool:
    """Whether the person signs in without passkeys: a password, or a provider account."""
    if person.password_hash is not None:
        return True
    methods = await social_repo.list_with_tokens(db, person_id=person.entity_id)
    return any(method.provider != "signup" for method in methods)


async def _lock_person(db: AsyncSession, person_id: str) -> Person:
    person = await social_repo.lock_person(db, entity_id=person_id)
    if person is None:
        raise Unauthorized("Invalid or expired access token.")
    return person


def _notify(db: AsyncSession, rt: Runtime, person: Person, *, event: str, passkey: Passkey) -> None:
    """Tell the owner (a thief adding a passkey of their own, or removing the owner's, is seen)."""
    data = notice_data(person.first_name, passkey_name=passkey.name)
    enqueue_email(db, key=rt.settings.encryption_key, event=event, to=person.email, data=data)


async def _refused(rt: Runtime, client: ClientInfo, person: PersonSummary, reason: str) -> None:
    """An answer that does not verify: in the person's history, the reason in the log line."""
    await record_alone(
        rt,
        "passkey_registration_failed",
        person_id=person.entity_id,
        client=client,
        reason=reason[:200],
    )
