"""Social sign-in bodies for accounts the fake providers know."""

from __future__ import annotations

from typing import Any

from tests.fakes.providers import FakeProviders

PROVIDERS = ("github", "google", "linkedin", "facebook")


def sign_in_body(providers: FakeProviders, provider: str, email: str, uid: str) -> dict[str, Any]:
    """The body the front end sends to /social/<provider> for this provider account."""
    if provider == "github":
        return {"code": providers.github_account(int(uid), email=email)}
    if provider == "google":
        return {"idtoken": providers.google_token(sub=f"g-{uid}", email=email)}
    if provider == "linkedin":
        return {"code": providers.linkedin_account(f"li-{uid}", email=email)}
    token = providers.facebook_token(f"fb{uid}", email=email)
    return {
        "accessToken": token,
        "data_access_expiration_time": 1652186921,
        "expiresIn": 4279,
        "grantedScopes": "email,public_profile",
        "userID": f"fb{uid}",
        "email": email,
        "name": "Ada Lovelace",
    }
