"""The one answer every sign-in gives (login, email verification, second factor, social),
shaped in one place from the step's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from quart_template.accounts.models import Person
from quart_template.schema import ResponseModel
from quart_template.sessions.caller import PersonSummary
from quart_template.sessions.service import IssuedToken
from quart_template.signin.outcomes import SignedIn, SignInOutcome


class Profile(ResponseModel):
    """The user object without a token (`GET /me`): never a hash or a secret."""

    active: bool
    email: str
    entity_id: str
    first_name: str | None
    last_name: str | None
    latest: bool
    login_method: str | None
    verified: bool
    verified_on: int | None = Field(description="when the email was verified (Unix time)")
    mfa_enabled: bool
    expires_in: int = Field(description="when the token expires (Unix time)")


class User(Profile):
    """The user object, as Flask Template's front ends read it, with the access token."""

    access_token: str


class PendingUser(ResponseModel):
    """An MFA person between the first and the second factor: no token."""

    mfa_enabled: bool
    email: str
    verified: bool


class SignInResponse(ResponseModel):
    """A user with a token; or, for an MFA person after the first factor, a pending user and
    the `mfa_token` for the second step. `message` on verification and second-factor answers,
    `auth` (the provider's token answer) on social sign-ins that issued a token; `passkey`
    true beside `mfa_token` when a passkey may be the second factor."""

    message: str | None = None
    success: bool = True
    user: User | PendingUser
    mfa_token: str | None = None
    passkey: Literal[True] | None = None
    auth: dict[str, Any] | None = None


def profile_fields(
    person: Person | PersonSummary, *, expires_at: datetime, login_method: str | None = None
) -> dict[str, Any]:
    """The user object's fields but the token, as a plain dict (the hot `GET /me` skips model
    validation; `User` and the answer check in the tests hold it to the same shape)."""
    return {
        "active": person.active,
        "email": person.email,
        "entity_id": person.entity_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "latest": True,
        "login_method": login_method,
        "verified": person.verified,
        "verified_on": None if person.verified_on is None else int(person.verified_on.timestamp()),
        "mfa_enabled": person.mfa_enabled,
        "expires_in": int(expires_at.timestamp()),
    }


def user_object(person: Person, token: IssuedToken, *, login_method: str | None = None) -> User:
    """The user object for a person signed in with `token`."""
    fields = profile_fields(person, expires_at=token.session.expires_at, login_method=login_method)
    return User(access_token=token.access_token, **fields)


def sign_in_response(
    outcome: SignInOutcome, *, message: str | None = None, auth: dict[str, Any] | None = None
) -> SignInResponse:
    """The answer to a sign-in step (`reply` leaves out the fields that do not apply)."""
    if isinstance(outcome, SignedIn):
        user = user_object(outcome.person, outcome.token, login_method=outcome.login_method)
        return SignInResponse(message=message, user=user, auth=auth)
    person = outcome.person
    pending = PendingUser(mfa_enabled=True, email=person.email, verified=person.verified)
    passkey: Literal[True] | None = True if outcome.passkey and outcome.mfa_token else None
    return SignInResponse(
        message=message, user=pending, mfa_token=outcome.mfa_token, passkey=passkey
    )
