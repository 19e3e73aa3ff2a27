"""OTP methods, recovery codes and challenges in the database: SQL only, keyword-only arguments.

`lock=True` reads take a row lock (SELECT ... FOR UPDATE on MariaDB; SQLite already runs one
writer at a time) so two requests racing for one code queue instead of both reading "unused".
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from quart_template.accounts.models import Person
from quart_template.db import utcnow
from quart_template.mfa.models import MfaChallenge, OtpMethod, RecoveryCode


async def lock_person(
    db: AsyncSession, *, person_id: str, with_password: bool = False
) -> Person | None:
    """An active person, locked for the caller's transaction."""
    query = (
        select(Person)
        .where(Person.entity_id == person_id, Person.active.is_(True))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if with_password:
        query = query.options(undefer(Person.password_hash))
    return (await db.execute(query)).scalar_one_or_none()


async def password_hash_of(db: AsyncSession, *, person_id: str) -> str | None:
    """The stored password hash (None for people who sign in socially only)."""
    query = select(Person.password_hash).where(Person.entity_id == person_id)
    return (await db.execute(query)).scalar_one_or_none()


async def get_otp_method(
    db: AsyncSession, *, person_id: str, lock: bool = False, with_secret: bool = False
) -> OtpMethod | None:
    """The person's active OTP method (there is at most one)."""
    query = (
        select(OtpMethod)
        .where(OtpMethod.person_id == person_id, OtpMethod.active.is_(True))
        .order_by(OtpMethod.changed_on.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if with_secret:
        query = query.options(undefer(OtpMethod.secret_encrypted))
    if lock:
        query = query.with_for_update()
    return (await db.execute(query)).scalar_one_or_none()


def add_otp_method(
    db: AsyncSession, *, person_id: str, entity_id: str, secret_encrypted: str
) -> OtpMethod:
    """A new, unconfirmed OTP method."""
    method = OtpMethod(
        entity_id=entity_id,
        person_id=person_id,
        secret_encrypted=secret_encrypted,
        confirmed=False,
        last_step=None,
        changed_by_id=person_id,
    )
    db.add(method)
    return method


async def list_recovery_codes(
    db: AsyncSession, *, person_id: str, unused_only: bool, with_copy: bool = False
) -> list[RecoveryCode]:
    """The person's active recovery codes, oldest first."""
    query = select(RecoveryCode).where(
        RecoveryCode.person_id == person_id, RecoveryCode.active.is_(True)
    )
    if unused_only:
        query = query.where(RecoveryCode.used_at.is_(None))
    if with_copy:
        query = query.options(undefer(RecoveryCode.code_encrypted))
    query = query.order_by(RecoveryCode.changed_on, RecoveryCode.entity_id)
    return list((await db.execute(query)).scalars())


async def find_recovery_code(
    db: AsyncSession, *, person_id: str, code_hash: str
) -> RecoveryCode | None:
    """The person's active code with this hash, locked for the caller's transaction."""
    query = (
        select(RecoveryCode)
        .where(
            RecoveryCode.person_id == person_id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.active.is_(True),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await db.execute(query)).scalars().first()


def add_recovery_code(
    db: AsyncSession, *, person_id: str, entity_id: str, code_hash: str, code_encrypted: str | None
) -> RecoveryCode:
    """A new unused recovery code."""
    row = RecoveryCode(
        entity_id=entity_id,
        person_id=person_id,
        code_hash=code_hash,
        code_encrypted=code_encrypted,
        changed_by_id=person_id,
    )
    db.add(row)
    return row


async def consume_challenge(db: AsyncSession, *, id_hash: str) -> bool:
    """Mark a live challenge used; False when it was already used or expired. One conditional
    UPDATE, so of two requests finishing the same login only one can win."""
    return await _spend_live(db, MfaChallenge.id_hash == id_hash) == 1


async def end_challenges(db: AsyncSession, *, person_id: str) -> None:
    """Spend every live challenge of the person, in the caller's transaction: a first factor
    passed before a password change, a reset or a takeover must not finish a login after it."""
    await _spend_live(db, MfaChallenge.person_id == person_id)


async def _spend_live(db: AsyncSession, which: ColumnElement[bool]) -> int:
    """Mark the live (unused, unexpired) challenges `which` selects used; how many were."""
    now = utcnow()
    result = await db.execute(
        update(MfaChallenge)
        .where(which, MfaChallenge.used_at.is_(None), MfaChallenge.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
