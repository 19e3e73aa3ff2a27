"""What a sign-in step ends with; the views turn it into the answer (`responses`)."""

from __future__ import annotations

from dataclasses import dataclass

from quart_template.accounts.models import Person
from quart_template.sessions.service import IssuedToken


@dataclass(frozen=True)
class SignedIn:
    """Every factor passed: a fresh session (or, when linking, the caller's own)."""

    person: Person
    token: IssuedToken
    login_method: str | None = None


@dataclass(frozen=True)
class SecondFactorNeeded:
    """The first factor passed for an MFA person: no token of any kind. `mfa_token` names the
    challenge that lets a second factor finish this login (None when the step that passed
    cannot start one: an emailed link is no first factor, so that person signs in normally).
    `passkey`: one of the person's passkeys may be the second factor."""

    person: Person
    mfa_token: str | None = None
    passkey: bool = False


SignInOutcome = SignedIn | SecondFactorNeeded
