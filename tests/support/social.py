"""Social sign-in bodies for accounts the fake providers know, and the server-driven flow as a
browser goes through it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

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


# --- the server-driven flow (GET /social/<provider>/authorize, then POST code + state) --------
FRONTEND = "http://frontend.test"


def redirect_uri(provider: str) -> str:
    """The default allowed redirect URI of a provider (FRONTEND_URL/session/social/<provider>)."""
    return f"{FRONTEND}/session/social/{provider}"


def account_code(providers: FakeProviders, provider: str, email: str, uid: str) -> str:
    """A code of the provider's authorize dialog for this account (what its consent gives)."""
    if provider == "github":
        return providers.github_account(int(uid), email=email)
    if provider == "google":
        return providers.google_account(f"g-{uid}", email=email)
    if provider == "linkedin":
        return providers.linkedin_account(f"li-{uid}", email=email)
    return providers.facebook_code(f"fb{uid}", email=email)


async def start_flow(client: Any, provider: str, uri: str | None = None) -> dict[str, Any]:
    """`GET /social/<provider>/authorize` as the front end calls it: the answer's body."""
    response = await client.get(
        f"/social/{provider}/authorize",
        query_string={"redirect_uri": uri or redirect_uri(provider)},
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return dict(await response.get_json())


async def consent(providers: FakeProviders, provider: str, url: str, code: str) -> dict[str, str]:
    """The browser at the provider's authorize URL: the person consents (the fake hands out
    `code`, bound to the URL's challenge), and the provider redirects back; the redirect's
    query (`code`, `state`)."""
    providers.approve_next(provider, code)
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return dict(parse_qsl(back.query))


async def browser_sign_in(
    client: Any,
    providers: FakeProviders,
    provider: str,
    email: str,
    uid: str,
    headers: dict[str, str] | None = None,
) -> Any:
    """The whole server-driven sign-in, as a browser and its front end go through it."""
    started = await start_flow(client, provider)
    back = await consent(
        providers, provider, started["url"], account_code(providers, provider, email, uid)
    )
    assert back["state"] == started["state"]  # the front end's own check
    return await client.post(f"/social/{provider}", json=back, headers=headers)
