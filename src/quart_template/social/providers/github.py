"""GitHub: the code is exchanged for a token (with the flow's redirect URI and PKCE verifier when
it came through `/social/github/authorize`), then `/user` and `/user/emails` are read together."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from quart_template.errors import APIError, BadGateway
from quart_template.settings import Settings
from quart_template.social.providers.base import (
    CodeFlow,
    Flow,
    Identity,
    call,
    client_credentials,
    code_for_token,
    json_answer,
    json_body,
    optional_text,
    provider_deadline,
    required_text,
)
from quart_template.social.schemas import CodeSignIn

TITLE = "GitHub"
REFUSED = "GitHub did not accept the code."


def credentials(settings: Settings) -> tuple[str, str]:
    """Our OAuth app at GitHub; 501 without it."""
    return client_credentials(TITLE, settings.github_client_id, settings.github_oauth_client_secret)


CODE_FLOW = CodeFlow(
    title=TITLE,
    scope="read:user user:email",
    endpoint=lambda settings: f"{settings.github_oauth_url}/authorize",
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
    """The GitHub account behind an OAuth code."""
    client_id, secret = credentials(settings)
    async with provider_deadline(TITLE, settings.provider_timeout):
        data: dict[str, str | None] = {
            "client_id": client_id,
            "client_secret": secret,
            "code": payload.code,
        }
        if flow is not None:
            data |= {"redirect_uri": flow.redirect_uri, "code_verifier": flow.code_verifier}
        token = await _access_token(data, http=http, settings=settings)
        user, emails = await _profile(token["access_token"], http=http, settings=settings)
    return _identity(token, user, emails)


async def _access_token(
    data: dict[str, str | None], *, http: httpx.AsyncClient, settings: Settings
) -> dict[str, Any]:
    return await code_for_token(
        http,
        f"{settings.github_oauth_url}/access_token",
        data=data,
        title=TITLE,
        refused=REFUSED,
        seconds=settings.provider_timeout,
    )


async def _profile(
    access_token: str, *, http: httpx.AsyncClient, settings: Settings
) -> tuple[dict[str, Any], list[Any]]:
    """`/user` and `/user/emails` at the same time: one provider round trip, not two."""
    try:
        async with asyncio.TaskGroup() as group:
            user = group.create_task(_get(http, settings, "/user", access_token))
            emails = group.create_task(_get(http, settings, "/user/emails", access_token))
    except BaseExceptionGroup as failures:
        raise _first_api_error(failures) from None
    user_body = json_body(user.result(), title=TITLE, refused=REFUSED)
    emails_response = emails.result()
    # Without the user:email scope the list is forbidden; the profile alone still signs in.
    if emails_response.status_code in (403, 404):
        return user_body, []
    listed = json_answer(emails_response, title=TITLE, refused=REFUSED)
    if not isinstance(listed, list):
        raise BadGateway(f"{TITLE} gave an unexpected answer.")
    return user_body, [item for item in listed if isinstance(item, dict)]


async def _get(
    http: httpx.AsyncClient, settings: Settings, path: str, access_token: str
) -> httpx.Response:
    return await call(
        http,
        "GET",
        f"{settings.github_api_url}{path}",
        title=TITLE,
        seconds=settings.provider_timeout,
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {access_token}",
        },
    )


def _first_api_error(failures: BaseExceptionGroup[Any]) -> BaseException:
    for failure in failures.exceptions:
        if isinstance(failure, BaseExceptionGroup):
            return _first_api_error(failure)
        if isinstance(failure, APIError):
            return failure
    return failures.exceptions[0]


def _identity(token: dict[str, Any], user: dict[str, Any], emails: list[Any]) -> Identity:
    email = optional_text(user, "email")
    verified_emails = {
        str(item.get("email", "")).lower() for item in emails if item.get("verified") is True
    }
    if email is None:
        primary = next((item for item in emails if item.get("primary") is True), None)
        email = optional_text(primary, "email") if primary else None
    name = optional_text(user, "name") or optional_text(user, "login")
    return Identity(
        provider="github",
        provider_user_id=required_text(user, "id", title=TITLE),
        email=email,
        email_verified=email is not None and email.lower() in verified_emails,
        first_name=name,
        last_name=None,
        user_name=name,
        auth={
            "access_token": token["access_token"],
            "scope": token.get("scope"),
            "token_type": token.get("token_type"),
        },
    )
