"""The seed's user object, the one shape every sign-in answers with."""

from __future__ import annotations

from typing import Any

from quart_template.accounts.models import Person
from quart_template.sessions.service import IssuedToken


def _timestamp(person: Person) -> int | None:
    return None if person.verified_on is None else int(person.verified_on.timestamp())


def user_object(
    person: Person, token: IssuedToken, *, login_method: str | None = None
) -> dict[str, Any]:
    """`access_token, active, email, entity_id, first_name, last_name, latest, login_method,
    verified, verified_on, mfa_enabled, expires_in` — never a hash or a secret."""
    return {
        "access_token": token.access_token,
        "active": person.active,
        "email": person.email,
        "entity_id": person.entity_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "latest": True,
        "login_method": login_method,
        "verified": person.verified,
        "verified_on": _timestamp(person),
        "mfa_enabled": person.mfa_enabled,
        "expires_in": token.expires_in,
    }


def mfa_pending_object(person: Person) -> dict[str, Any]:
    """What an MFA person gets after the first factor: no token of any kind."""
    return {"mfa_enabled": True, "email": person.email, "verified": person.verified}
