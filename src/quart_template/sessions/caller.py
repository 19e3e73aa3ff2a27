"""Who is calling, as the token check knows it: plain read-only values, cheap to keep in memory
between requests. They say who the caller is; a service that decides on or changes the person
or the session reads the row itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PersonSummary:
    """The person's fields the views and the signed-in services read (never the password
    hash: a password check loads it)."""

    entity_id: str
    email: str
    first_name: str | None
    last_name: str | None
    verified: bool
    verified_on: datetime | None
    mfa_enabled: bool
    active: bool = True


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """The session behind the token (its proof of a credential is read fresh where it
    matters: `sessions.proof`)."""

    entity_id: str
    person_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the person and the session their token belongs to."""

    person: PersonSummary
    session: SessionSummary
