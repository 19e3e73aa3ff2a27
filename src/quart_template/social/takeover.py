"""Pre-account hijack defence. Anyone can sign up with somebody else's address and a password of
their own, and wait: the address is unverified, but the account exists. When a provider later
vouches for that address, the provider's user is its owner, and everything the account holds was
set up by somebody who never proved the address. So it is cleared before the provider account
is linked: password, sessions, pending second steps, MFA, passkeys and the other login
methods."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import Person
from quart_template.db import utcnow
from quart_template.email.messages import ACCOUNT_TAKEN_OVER_BY_PROVIDER
from quart_template.email.payload import provider_data
from quart_template.events.outbox import enqueue_email
from quart_template.mfa import repository as mfa_repo
from quart_template.mfa.recovery import retire_codes
from quart_template.mfa.repository import end_challenges
from quart_template.passkeys import repository as passkey_repo
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record
from quart_template.sessions.service import revoke_all_sessions
from quart_template.social import repository as repo
from quart_template.social.providers.base import Identity

log = logging.getLogger(__name__)

NAME_MAX = 120


async def take_over(
    db: AsyncSession, rt: Runtime, person: Person, identity: Identity, client: ClientInfo
) -> None:
    """The unverified `person` (password loaded) becomes the provider account's: cleared, then
    verified, linked and told. Soft deletes and updates only, so the audit keeps every step."""
    owner = person.entity_id
    sessions = await revoke_all_sessions(db, person_id=owner, by=owner)
    await end_challenges(db, person_id=owner)
    had_mfa = await _remove_mfa(db, person)
    passkeys = await passkey_repo.list_passkeys(db, person_id=owner)
    for passkey in passkeys:
        passkey_repo.soft_delete(passkey, by=owner)
    removed = await repo.list_with_tokens(db, person_id=owner)
    for method in removed:
        repo.soft_delete(method, by=owner)
    person.password_hash = None
    person.verified, person.verified_on = True, utcnow()
    # The names were typed by whoever signed up; the provider's are the owner's.
    person.first_name = _name(identity.first_name)
    person.last_name = _name(identity.last_name)
    person.changed_by_id = owner
    await db.flush()  # the old methods are gone before the new one joins
    repo.add_login_method(
        db, person=person, identity=identity, key=rt.settings.encryption_key, by=owner
    )
    enqueue_email(
        db,
        key=rt.settings.encryption_key,
        event=ACCOUNT_TAKEN_OVER_BY_PROVIDER,
        to=person.email,
        data=provider_data(person.first_name, identity.provider),
    )
    # An unverified account taken over by a provider that verified its email.
    record(
        db,
        "account_taken_over",
        person_id=owner,
        client=client,
        provider=identity.provider,
        sessions_revoked=str(sessions),
        login_methods_removed=",".join(method.provider for method in removed),
        mfa_removed=str(had_mfa).lower(),
        passkeys_removed=str(len(passkeys)),
    )


async def _remove_mfa(db: AsyncSession, person: Person) -> bool:
    """MFA off, the OTP method (confirmed or pending) and every recovery code retired; whether
    there was anything to remove."""
    method = await mfa_repo.get_otp_method(db, person_id=person.entity_id, lock=True)
    had_mfa = person.mfa_enabled or method is not None
    if method is not None:
        method.active = False
        method.changed_by_id = person.entity_id
    await retire_codes(db, person_id=person.entity_id)
    person.mfa_enabled = False
    return had_mfa


def _name(value: str | None) -> str | None:
    return value[:NAME_MAX] if value else None
