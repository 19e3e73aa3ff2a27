"""Passkeys and their challenges in the database: SQL only, keyword-only arguments."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, Exists, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from quart_template.db import utcnow
from quart_template.passkeys.ceremony import CHALLENGE_SECONDS, NewPasskey, challenge_hash
from quart_template.passkeys.models import Passkey, PasskeyChallenge


async def list_passkeys(db: AsyncSession, *, person_id: str) -> list[Passkey]:
    """The person's active passkeys, oldest first."""
    query = (
        select(Passkey)
        .where(Passkey.person_id == person_id, Passkey.active.is_(True))
        .order_by(Passkey.created_at, Passkey.entity_id)
    )
    return list((await db.execute(query)).scalars())


def active_passkey_exists(
    person_id: ColumnElement[str] | InstrumentedAttribute[str] | str,
) -> Exists:
    """Whether the person (an id, or the person column of an outer query) has an active passkey."""
    return exists().where(Passkey.person_id == person_id, Passkey.active.is_(True))


async def has_passkeys(db: AsyncSession, *, person_id: str) -> bool:
    return bool(await db.scalar(select(active_passkey_exists(person_id))))


async def get_owned(db: AsyncSession, *, entity_id: str, person_id: str) -> Passkey | None:
    """One of the person's active passkeys, locked for the caller's transaction."""
    query = (
        select(Passkey)
        .where(
            Passkey.entity_id == entity_id,
            Passkey.person_id == person_id,
            Passkey.active.is_(True),
        )
        .with_for_update()
    )
    return (await db.execute(query)).scalar_one_or_none()


async def find_by_credential(
    db: AsyncSession, *, credential_key: str, lock: bool = False
) -> Passkey | None:
    """The active passkey with this credential (`lock`: row-locked, so two sign-ins with one
    credential check its counter one after the other)."""
    query = select(Passkey).where(Passkey.credential_key == credential_key)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await db.execute(query)).scalar_one_or_none()


def add_passkey(db: AsyncSession, *, person_id: str, name: str, new: NewPasskey) -> Passkey:
    passkey = Passkey(
        person_id=person_id,
        name=name,
        credential_id=new.credential_id,
        credential_key=new.credential_key,
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=new.transports,
        aaguid=new.aaguid,
        backup_eligible=new.backup_eligible,
        backed_up=new.backed_up,
        created_at=utcnow(),
        changed_by_id=person_id,
    )
    db.add(passkey)
    return passkey


def soft_delete(passkey: Passkey, *, by: str) -> None:
    """Removed: inactive, and its credential free to be registered again."""
    passkey.active = False
    passkey.credential_key = None
    passkey.changed_by_id = by


def add_challenge(
    db: AsyncSession,
    *,
    challenge: bytes,
    purpose: str,
    person_id: str | None = None,
    mfa_challenge: str | None = None,
) -> None:
    now = utcnow()
    db.add(
        PasskeyChallenge(
            challenge_hash=challenge_hash(challenge),
            purpose=purpose,
            person_id=person_id,
            mfa_challenge=mfa_challenge,
            created_at=now,
            expires_at=now + timedelta(seconds=CHALLENGE_SECONDS),
        )
    )


async def spend_challenge(
    db: AsyncSession,
    *,
    challenge: bytes,
    purpose: str,
    person_id: str | None = None,
    mfa_challenge: str | None = None,
) -> bool:
    """Mark the live challenge used; False when there is none for this purpose (and person,
    and login), or it was used or expired. One conditional UPDATE: of two answers with one
    challenge, only one can win."""
    now = utcnow()
    query = update(PasskeyChallenge).where(
        PasskeyChallenge.challenge_hash == challenge_hash(challenge),
        PasskeyChallenge.purpose == purpose,
        PasskeyChallenge.used_at.is_(None),
        PasskeyChallenge.expires_at > now,
    )
    if person_id is not None:
        query = query.where(PasskeyChallenge.person_id == person_id)
    if mfa_challenge is not None:
        query = query.where(PasskeyChallenge.mfa_challenge == mfa_challenge)
    result = await db.execute(
        query.values(used_at=now).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1
