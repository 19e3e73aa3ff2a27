"""LinkedIn through OpenID Connect: the code is exchanged for a token (with the flow's redirect URI
and PKCE verifier when it came through `/social/linkedin/authorize`, else with
LINKEDIN_REDIRECT_URI), then `userinfo` is read (LinkedIn retired the older `/v2/me` +
`emailAddress` API)."""

from __future__ import annotations

from typing import Any

import httpx

from quart_template.settings import Settings
from quart_template.social.providers.base import (
    CodeFlow,
    Flow,
    Identity,
    call,
    client_credentials,
    code_for_token,
    json_body,
    optional_text,
    provider_deadline,
    required_text,
    truthy,
)
from quart_template.social.schemas import CodeSignIn

TITLE = "LinkedIn"
REFUSED = "LinkedIn did not accept the code."


def credentials(settings: Settings) -> tuple[str, str]:
    """Our OpenID Connect app at LinkedIn; 501 without it."""
    return client_credentials(
        TITLE, settings.linkedin_client_id, settings.linkedin_oauth_client_secret
    )


CODE_FLOW = CodeFlow(
    title=TITLE,
    scope="openid profile email",
    endpoint=lambda settings: f"{settings.linkedin_oauth_url}/authorization",
    client_id=lambda settings: credentials(settings)[0],
    seed_code=True,
)


async def exchange(
    payload: CodeSignIn,
    *,
    http: httpx.AsyncClient,
    settings: Settings,
    flow: Flow | None = None,
) -> Identity:
    """The LinkedIn member behind an OAuth code."""
    client_id, secret = credentials(settings)
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": payload.code,
        "redirect_uri": flow.redirect_uri if flow else settings.linkedin_redirect_uri,
        "client_id": client_id,
        "client_secret": secret,
        "code_verifier": flow.code_verifier if flow else None,
    }
    async with provider_deadline(TITLE, settings.provider_timeout):
        token = await _access_token(data, http=http, settings=settings)
        response = await call(
            http,
            "GET",
            f"{settings.linkedin_api_url}/userinfo",
            title=TITLE,
            seconds=settings.provider_timeout,
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
    userinfo = json_body(response, title=TITLE, refused=REFUSED)
    return _identity(token, userinfo)


async def _access_token(
    data: dict[str, str | None], *, http: httpx.AsyncClient, settings: Settings
) -> dict[str, Any]:
    return await code_for_token(
        http,
        f"{settings.linkedin_oauth_url}/accessToken",
        data=data,
        title=TITLE,
        refused=REFUSED,
        seconds=settings.provider_timeout,
    )


def _identity(token: dict[str, Any], userinfo: dict[str, Any]) -> Identity:
    email = optional_text(userinfo, "email")
    return Identity(
        provider="linkedin",
        provider_user_id=required_text(userinfo, "sub", title=TITLE),
        email=email,
        email_verified=email is not None and truthy(userinfo.get("email_verified")),
        first_name=optional_text(userinfo, "given_name"),
        last_name=optional_text(userinfo, "family_name"),
        user_name=optional_text(userinfo, "name"),
        auth={
            "access_token": token["access_token"],
            "expires_in": token.get("expires_in"),
            "name": "linkedin",
        },
    )
