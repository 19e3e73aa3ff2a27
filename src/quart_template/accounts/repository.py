"""People and login methods in the database: SQL only, no HTTP, keyword-only arguments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from quart_template.accounts.models import LoginMethod, Person, normalise_email
from quart_template.db import new_entity_id

# Built once: the loader option costs more to make than the rest of the statement.
_PERSON = select(Person)
_PERSON_WITH_PASSWORD = select(Person).options(undefer(Person.password_hash))


async def get_person(
    db: AsyncSession, *, entity_id: str, with_password: bool = False, for_update: bool = False
) -> Person | None:
    """An active person by entity id (`for_update`: row-locked, so concurrent writers of one
    person queue instead of deadlocking on MySQL)."""
    query = (_PERSON_WITH_PASSWORD if with_password else _PERSON).where(
        Person.entity_id == entity_id, Person.active.is_(True)
    )
    if for_update:
        query = query.with_for_update()
    return (await db.execute(query)).scalar_one_or_none()


async def get_person_by_email(
    db: AsyncSession, *, email: str, with_password: bool = False
) -> Person | None:
    """The active person with this email (case-insensitive), if any."""
    query = (_PERSON_WITH_PASSWORD if with_password else _PERSON).where(
        Person.email_key == normalise_email(email)
    )
    return (await db.execute(query)).scalar_one_or_none()


def add_person(
    db: AsyncSession,
    *,
    email: str,
    first_name: str | None,
    last_name: str | None,
    password_hash: str | None,
    verified: bool = False,
) -> Person:
    """A new active person (flush to get the unique-email check)."""
    entity_id = new_entity_id()
    person = Person(
        entity_id=entity_id,
        changed_by_id=entity_id,
        email=email.strip(),
        email_key=normalise_email(email),
        first_name=first_name,
        last_name=last_name,
        password_hash=password_hash,
        verified=verified,
        mfa_enabled=False,
    )
    db.add(person)
    return person


async def list_login_methods(db: AsyncSession, *, person_id: str) -> list[LoginMethod]:
    """The person's active login methods, oldest first."""
    result = await db.execute(
        select(LoginMethod)
        .where(LoginMethod.person_id == person_id, LoginMethod.active.is_(True))
        .order_by(LoginMethod.changed_on)
    )
    return list(result.scalars())
