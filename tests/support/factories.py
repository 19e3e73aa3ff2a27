"""Factories: build people and sessions through the real code paths, not hand-written SQL."""

from __future__ import annotations

from dataclasses import dataclass

from quart_template.accounts.models import LoginMethod, Person
from quart_template.accounts.passwords import hash_password
from quart_template.accounts.repository import add_person
from quart_template.db import utcnow
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.sessions.service import issue_session

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass
class PersonWithToken:
    person: Person
    password: str | None
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Basic {self.token}"}


async def create_person(
    rt: Runtime,
    *,
    email: str = "ada@example.com",
    password: str | None = DEFAULT_PASSWORD,
    first_name: str = "Ada",
    last_name: str = "Lovelace",
    verified: bool = True,
    with_signup_method: bool = True,
) -> Person:
    """A person as sign-up (and verification) would leave them."""
    password_hash = await hash_password(password, settings=rt.settings) if password else None
    async with rt.db() as db, db.begin():
        person = add_person(
            db,
            email=email,
            first_name=first_name,
            last_name=last_name,
            password_hash=password_hash,
            verified=verified,
        )
        if verified:
            person.verified_on = utcnow()
        await db.flush()
        if with_signup_method:
            db.add(LoginMethod(person_id=person.entity_id, provider="signup"))
    return person


async def signed_in(rt: Runtime, **kwargs: object) -> PersonWithToken:
    """A person with a fresh access token."""
    person = await create_person(rt, **kwargs)  # type: ignore[arg-type]
    async with rt.db() as db, db.begin():
        issued = await issue_session(
            db, settings=rt.settings, person=person, client=ClientInfo("127.0.0.1", "pytest")
        )
    password = kwargs.get("password", DEFAULT_PASSWORD)
    return PersonWithToken(
        person=person,
        password=password if isinstance(password, str) else None,
        token=issued.access_token,
    )
