"""Login methods in the database: SQL only, no HTTP. Provider tokens are stored encrypted
(AES-GCM, bound to the row), so a dump of the table holds no usable provider token."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from quart_template.accounts.models import LoginMethod, Person
from quart_template.db import new_entity_id
from quart_template.mfa.crypto import DecryptionError, decrypt_text, encrypt_text
from quart_template.social.providers.base import Identity


async def get_by_identity(db: AsyncSession, *, identity_key: str) -> LoginMethod | None:
    """The active login method of this provider account, if anyone has it. Row-locked (MySQL):
    concurrent sign-ins of one account then refresh its tokens one after the other."""
    query = (
        select(LoginMethod)
        .where(LoginMethod.identity_key == identity_key, LoginMethod.active.is_(True))
        .options(undefer(LoginMethod.access_token), undefer(LoginMethod.refresh_token))
        .with_for_update()
    )
    return (await db.execute(query)).scalar_one_or_none()


async def get_owned(db: AsyncSession, *, entity_id: str, person_id: str) -> LoginMethod | None:
    """The person's active login method with this entity id; None if it is not theirs."""
    query = select(LoginMethod).where(
        LoginMethod.entity_id == entity_id,
        LoginMethod.person_id == person_id,
        LoginMethod.active.is_(True),
    )
    return (await db.execute(query)).scalar_one_or_none()


async def list_with_tokens(db: AsyncSession, *, person_id: str) -> list[LoginMethod]:
    """The person's active login methods, tokens loaded, oldest first."""
    result = await db.execute(
        select(LoginMethod)
        .where(LoginMethod.person_id == person_id, LoginMethod.active.is_(True))
        .options(undefer(LoginMethod.access_token), undefer(LoginMethod.refresh_token))
        .order_by(LoginMethod.changed_on, LoginMethod.entity_id)
    )
    return list(result.scalars())


async def lock_person(db: AsyncSession, *, entity_id: str) -> Person | None:
    """The active person, row-locked (MySQL) so two unlinks cannot both see the other method."""
    query = (
        select(Person)
        .where(Person.entity_id == entity_id, Person.active.is_(True))
        .options(undefer(Person.password_hash))
        .with_for_update()
    )
    return (await db.execute(query)).scalar_one_or_none()


def add_login_method(
    db: AsyncSession, *, person: Person, identity: Identity, key: bytes, by: str
) -> LoginMethod:
    """A new active login method for a provider account."""
    method = LoginMethod(
        entity_id=new_entity_id(),
        person_id=person.entity_id,
        provider=identity.provider,
        provider_user_id=identity.provider_user_id,
        identity_key=identity.identity_key,
        changed_by_id=by,
    )
    refresh_from(method, identity, key=key)
    db.add(method)
    return method


async def link_method(
    db: AsyncSession, *, person: Person, identity: Identity, key: bytes, by: str
) -> LoginMethod:
    """Link the provider account: into the person's method of that provider that has no
    provider user id yet (one imported from Flask Template without it), else a new one."""
    query = (
        select(LoginMethod)
        .where(
            LoginMethod.person_id == person.entity_id,
            LoginMethod.provider == identity.provider,
            LoginMethod.provider_user_id.is_(None),
            LoginMethod.active.is_(True),
        )
        .order_by(LoginMethod.changed_on, LoginMethod.entity_id)
        .limit(1)
        .with_for_update()
    )
    method = (await db.execute(query)).scalar_one_or_none()
    if method is None:
        return add_login_method(db, person=person, identity=identity, key=key, by=by)
    method.provider_user_id = identity.provider_user_id
    method.identity_key = identity.identity_key
    method.changed_by_id = by
    refresh_from(method, identity, key=key)
    return method


def refresh_from(method: LoginMethod, identity: Identity, *, key: bytes) -> None:
    """Copy what the provider just said (email, name, tokens) onto the login method."""
    auth = identity.auth
    method.email = identity.email
    method.email_verified = identity.email_verified
    method.user_name = identity.user_name
    method.access_token = _seal(auth.get("access_token"), method, "access_token", key)
    method.refresh_token = _seal(auth.get("refresh_token"), method, "refresh_token", key)
    method.token_type = _text(auth.get("token_type"), 32)
    method.scope = _text(auth.get("scope"), 500)
    method.expires_in = _integer(auth.get("expires_in"))
    method.refresh_token_expires_in = _integer(auth.get("refresh_token_expires_in"))


def soft_delete(method: LoginMethod, *, by: str) -> None:
    """Deactivate: the provider account becomes free to link again, its tokens are dropped."""
    method.active = False
    method.identity_key = None
    method.access_token = None
    method.refresh_token = None
    method.changed_by_id = by


def open_token(method: LoginMethod, field: str, *, key: bytes) -> str | None:
    """A stored provider token in clear text (None if absent or unreadable with this key)."""
    sealed: str | None = getattr(method, field)
    if sealed is None:
        return None
    try:
        return decrypt_text(sealed, key=key, context=_context(method, field))
    except DecryptionError:
        return None


def _seal(value: object, method: LoginMethod, field: str, key: bytes) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return encrypt_text(value, key=key, context=_context(method, field))


def _context(method: LoginMethod, field: str) -> str:
    return f"login_method:{method.entity_id}:{field}"


def _text(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _integer(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if -(2**31) <= number < 2**31 else None
