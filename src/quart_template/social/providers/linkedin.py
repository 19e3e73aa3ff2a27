"""LinkedIn through OpenID Connect: the code is exchanged for a token, then `userinfo` is read
(LinkedIn retired the older `/v2/me` + `emailAddress` API)."""

from __future__ import annotations

from typing import Any

import httpx

from quart_template.settings import Settings
from quart_template.social.providers.base import (
    Identity,
    call,
    code_for_token,
    json_body,
    not_configured,
    optional_text,
    provider_deadline,
    required_text,
    truthy,
)
from quart_template.social.schemas import CodeSignIn

TITLE = "LinkedIn"
REFUSED = "LinkedIn did not accept the code."


async def exchange(payload: CodeSignIn, *, http: httpx.AsyncClient, settings: Settings) -> Identity:
    """The LinkedIn member behind an OAuth code."""
    if not settings.linkedin_client_id or not settings.linkedin_oauth_client_secret:
        raise not_configured(TITLE)
    async with provider_deadline(TITLE, settings.provider_timeout):
        token = await _access_token(payload.code, http=http, settings=settings)
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
    code: str, *, http: httpx.AsyncClient, settings: Settings
) -> dict[str, Any]:
    return await code_for_token(
        http,
        f"{settings.linkedin_oauth_url}/accessToken",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": settings.linkedin_redirect_uri,
            "client_id": settings.linkedin_client_id,
            "client_secret": settings.linkedin_oauth_client_secret,
        },
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
