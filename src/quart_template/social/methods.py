"""The caller's login methods: list them in Flask Template's shape (provider tokens only when
EXPOSE_PROVIDER_TOKENS says so), unlink one (never the last, and the owner is told)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import LoginMethod, Person
from quart_template.email import messages
from quart_template.email.payload import notice_data, provider_data
from quart_template.errors import BadRequest, Conflict, Unauthorized
from quart_template.events.outbox import enqueue_email
from quart_template.passkeys.repository import has_passkeys
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record
from quart_template.social import repository as repo

UNLINK_SCOPE = "social_unlink"
LAST_METHOD = (
    "This is your last way to sign in: add a password, a passkey or link another account "
    "before removing it."
)


async def list_methods(rt: Runtime, *, person_id: str) -> list[dict[str, Any]]:
    """`[{"profile": {...}, "provider": ...}]`. The provider tokens (the caller's own) are shown
    only with EXPOSE_PROVIDER_TOKENS: a stolen access token should not also be a GitHub token."""
    key = rt.settings.encryption_key
    async with rt.db() as db, db.begin():
        methods = await repo.list_with_tokens(db, person_id=person_id)

    def token(method: LoginMethod, field: str) -> str | None:
        if not rt.settings.expose_provider_tokens:
            return None
        return repo.open_token(method, field, key=key)

    return [
        {
            "profile": {
                "access_token": token(method, "access_token"),
                "email": method.email,
                "entity_id": method.entity_id,
                "expires_in": method.expires_in,
                "name": method.provider,
                "refresh_token": token(method, "refresh_token"),
                "refresh_token_expires_in": method.refresh_token_expires_in,
                "scope": method.scope,
                "token_type": method.token_type,
                "user_name": method.user_name,
            },
            "provider": method.provider,
        }
        for method in methods
    ]


async def unlink(rt: Runtime, *, person_id: str, entity_id: str, client: ClientInfo) -> None:
    """Soft-delete one of the caller's methods; 409 when nothing would be left to sign in with.
    The owner gets a notice, so unlinks count against the email limits."""
    async with rt.db() as db, db.begin():
        # Locked first, so two concurrent unlinks cannot each count the other as a way left.
        person = await repo.lock_person(db, entity_id=person_id)
        if person is None:
            raise Unauthorized("Invalid or expired access token.")
        method = await repo.get_owned(db, entity_id=entity_id, person_id=person_id)
        if method is None:
            raise BadRequest(f"This user doesn't have login method {entity_id}")
        others = [
            m for m in await repo.list_with_tokens(db, person_id=person_id) if m is not method
        ]
        has_password = person.password_hash is not None
        still_works = any(m.provider != "signup" or has_password for m in others)
        if method.provider != "signup" and has_password:
            still_works = True
        if await has_passkeys(db, person_id=person_id):
            still_works = True  # a passkey signs in on its own
        if not still_works:
            raise Conflict(LAST_METHOD)
        # Counted once the unlink will happen: a refused one sends nothing.
        await rt.limiter.guard_email_sending(client.ip, person.email, scope=UNLINK_SCOPE)
        repo.soft_delete(method, by=person_id)
        if method.provider == "signup" and not any(m.provider == "signup" for m in others):
            # Removing "signup" removes password sign-in for real, not just the row.
            person.password_hash = None
            person.changed_by_id = person_id
        _notify(db, person, provider=method.provider, key=rt.settings.encryption_key)
        removed_password = method.provider == "signup" and person.password_hash is None
        event = "password_removed" if removed_password else "social_unlinked"
        record(db, event, person_id=person_id, client=client, provider=method.provider)


def _notify(db: AsyncSession, person: Person, *, provider: str, key: bytes) -> None:
    """Tell the owner a way to sign in is gone (a thief removing the owner's is seen)."""
    if provider == "signup":
        data = notice_data(person.first_name)
        enqueue_email(db, key=key, event=messages.PASSWORD_REMOVED, to=person.email, data=data)
    else:
        data = provider_data(person.first_name, provider)
        enqueue_email(db, key=key, event=messages.SOCIAL_UNLINKED, to=person.email, data=data)
