"""Recovery-code rules: a fresh set replaces the old one whole, codes are matched by hash, and
an encrypted copy is kept only while RECOVERY_CODES_VIEWABLE allows showing them again."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.db import new_entity_id, utcnow
from quart_template.email import messages
from quart_template.email.payload import notice_data
from quart_template.errors import BadRequest
from quart_template.events.outbox import enqueue_email
from quart_template.mfa import repository
from quart_template.mfa.crypto import DecryptionError, decrypt_text, encrypt_text
from quart_template.mfa.models import RecoveryCode
from quart_template.mfa.recovery_codes import hash_code, new_code, normalise_code
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record
from quart_template.sessions.caller import PersonSummary
from quart_template.settings import Settings

log = logging.getLogger(__name__)

REGENERATE_SCOPE = "recovery_codes"
NOT_SET_UP = "MFA is not set up: verify an OTP code first."


@dataclass(frozen=True)
class CodeListing:
    """Unused codes (None when they are not viewable) and how many there are."""

    codes: list[str] | None
    count: int


def copy_context(entity_id: str) -> str:
    """Bound into a code's encrypted copy: a copy moved to another row does not open."""
    return f"recovery_code:{entity_id}"


async def retire_codes(db: AsyncSession, *, person_id: str) -> None:
    """Every active code of the person stops working (soft delete, audited)."""
    for row in await repository.list_recovery_codes(db, person_id=person_id, unused_only=False):
        row.active = False
        row.changed_by_id = person_id
    await db.flush()


async def issue_codes(db: AsyncSession, *, settings: Settings, person_id: str) -> list[str]:
    """Replace the person's codes with `RECOVERY_CODES_COUNT` new ones; returns them in clear."""
    await retire_codes(db, person_id=person_id)
    codes = [new_code() for _ in range(settings.recovery_codes_count)]
    for code in codes:
        entity_id = new_entity_id()
        copy = (
            encrypt_text(code, key=settings.encryption_key, context=copy_context(entity_id))
            if settings.recovery_codes_viewable
            else None
        )
        repository.add_recovery_code(
            db,
            person_id=person_id,
            entity_id=entity_id,
            code_hash=hash_code(code),
            code_encrypted=copy,
        )
    await db.flush()
    return codes


async def spend_code(db: AsyncSession, *, person_id: str, code: str) -> bool:
    """Mark the person's matching unused code used; False when there is none. The row is
    locked, and a concurrent spend of the same code loses on its version (StaleDataError)."""
    normalised = normalise_code(code)
    if normalised is None:
        return False
    row = await repository.find_recovery_code(
        db, person_id=person_id, code_hash=hash_code(normalised)
    )
    if row is None or row.used_at is not None:
        return False
    row.used_at = utcnow()
    row.changed_by_id = person_id
    return True


def _reveal(row: RecoveryCode, settings: Settings) -> str | None:
    if row.code_encrypted is None:
        return None
    try:
        return decrypt_text(
            row.code_encrypted, key=settings.encryption_key, context=copy_context(row.entity_id)
        )
    except DecryptionError:
        log.warning("recovery code copy unreadable", extra={"event": "recovery_code_unreadable"})
        return None


async def list_codes(rt: Runtime, *, person: PersonSummary, client: ClientInfo) -> CodeListing:
    """The unused codes, decrypted when viewable; otherwise only their number. Looking at
    them is a security event (whoever sees them can sign in)."""
    viewable = rt.settings.recovery_codes_viewable
    async with rt.db() as db, db.begin():
        rows = await repository.list_recovery_codes(
            db, person_id=person.entity_id, unused_only=True, with_copy=viewable
        )
        record(db, "recovery_codes_viewed", person_id=person.entity_id, client=client)
    if not viewable:
        return CodeListing(codes=None, count=len(rows))
    codes = [code for code in (_reveal(row, rt.settings) for row in rows) if code is not None]
    return CodeListing(codes=codes, count=len(rows))


async def regenerate_codes(rt: Runtime, *, person: PersonSummary, client: ClientInfo) -> list[str]:
    """A new set for a person with a confirmed OTP method; the old codes die, an email says so
    (so every set counts against the email limits of the address and the client IP)."""
    await rt.limiter.guard_email_sending(client.ip, person.email, scope=REGENERATE_SCOPE)
    async with rt.db() as db, db.begin():
        # Person first, then its MFA rows: the lock order of every MFA write.
        await repository.lock_person(db, person_id=person.entity_id)
        method = await repository.get_otp_method(db, person_id=person.entity_id, lock=True)
        if method is None or not method.confirmed:
            raise BadRequest(NOT_SET_UP)
        codes = await issue_codes(db, settings=rt.settings, person_id=person.entity_id)
        record(db, "recovery_codes_regenerated", person_id=person.entity_id, client=client)
        enqueue_email(
            db,
            key=rt.settings.encryption_key,
            event=messages.RECOVERY_CODES_REGENERATED,
            to=person.email,
            data=notice_data(person.first_name),
        )
    return codes
