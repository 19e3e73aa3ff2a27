"""What every provider hands back, and the one way provider HTTP calls fail: 401 when the
provider refuses what the client sent, 502 when the provider misbehaves, 504 when it is slow."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from quart_template.errors import BadGateway, GatewayTimeout, NotImplementedHere, Unauthorized
from quart_template.settings import Settings


@dataclass(frozen=True)
class Identity:
    """A provider account the provider itself vouched for."""

    provider: str
    provider_user_id: str
    email: str | None
    email_verified: bool
    first_name: str | None
    last_name: str | None
    user_name: str | None
    # The `auth` object of the answer: the provider's tokens as the client may see them.
    auth: dict[str, Any] = field(default_factory=dict)

    @property
    def identity_key(self) -> str:
        return f"{self.provider}:{self.provider_user_id}"


@dataclass(frozen=True)
class Flow:
    """A server-driven sign-in, spent: what the code exchange must send back to the provider
    (the redirect URI the code was issued for, the PKCE verifier) and the ID token's nonce."""

    redirect_uri: str
    code_verifier: str | None = None
    nonce: str | None = None


@dataclass(frozen=True)
class CodeFlow:
    """How a provider's consent dialog is asked for a code (`GET /social/<provider>/authorize`)."""

    title: str
    scope: str
    endpoint: Callable[[Settings], str]
    client_id: Callable[[Settings], str]  # 501 when the code flow is not configured
    pkce: bool = True  # the dialog takes an S256 `code_challenge`
    nonce: bool = False  # OpenID Connect: the ID token carries the `nonce` of the request
    # Flask Template's front ends posted this provider's codes without a state: taken unless
    # SOCIAL_REQUIRE_STATE (a provider new to codes takes them only with their state).
    seed_code: bool = False


def not_configured(title: str) -> NotImplementedHere:
    """Without credentials a provider cannot vouch for anyone: not offered here (501)."""
    return NotImplementedHere(f"{title} sign-in is not configured.")


def client_credentials(title: str, client_id: str | None, secret: str | None) -> tuple[str, str]:
    """Our client id and secret at a provider; 501 when either is unset."""
    if not client_id or not secret:
        raise not_configured(title)
    return client_id, secret


@asynccontextmanager
async def provider_deadline(title: str, seconds: float) -> AsyncIterator[None]:
    """The whole exchange, however many calls it makes, answers within PROVIDER_TIMEOUT."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise GatewayTimeout(f"{title} did not answer in time, please try again.") from None


async def call(
    http: httpx.AsyncClient, method: str, url: str, *, title: str, seconds: float, **kwargs: Any
) -> httpx.Response:
    """One provider request with an explicit timeout; transport failures become 502/504."""
    try:
        return await http.request(method, url, timeout=seconds, **kwargs)
    except httpx.TimeoutException:
        raise GatewayTimeout(f"{title} did not answer in time, please try again.") from None
    except httpx.HTTPError:
        raise BadGateway(f"{title} could not be reached, please try again.") from None


def json_answer(response: httpx.Response, *, title: str, refused: str) -> object:
    """The parsed JSON of a provider answer: 4xx means the provider refused (401); a 5xx, a
    rate limit or a body that is not JSON means the provider failed (502)."""
    if response.status_code == 429 or response.status_code >= 500:
        raise BadGateway(f"{title} failed to answer, please try again.")
    if 400 <= response.status_code < 500:
        raise Unauthorized(refused)
    if not 200 <= response.status_code < 300:
        raise BadGateway(f"{title} gave an unexpected answer.")
    try:
        return json.loads(response.content)
    except ValueError:
        raise BadGateway(f"{title} gave an unexpected answer.") from None


def json_body(response: httpx.Response, *, title: str, refused: str) -> dict[str, Any]:
    """A provider answer that must be a JSON object."""
    body = json_answer(response, title=title, refused=refused)
    if not isinstance(body, dict):
        raise BadGateway(f"{title} gave an unexpected answer.")
    return body


async def code_for_token(
    http: httpx.AsyncClient,
    url: str,
    *,
    data: dict[str, str | None],
    title: str,
    refused: str,
    seconds: float,
) -> dict[str, Any]:
    """An OAuth code exchanged for a token answer (fields that are None are not sent). Providers
    answer a bad or used code with 200 and an `error` field as often as with a 4xx: both are
    the provider refusing it (401)."""
    response = await call(
        http,
        "POST",
        url,
        title=title,
        seconds=seconds,
        data={name: value for name, value in data.items() if value is not None},
        headers={"Accept": "application/json"},
    )
    body = json_body(response, title=title, refused=refused)
    if "error" in body:
        raise Unauthorized(refused)
    required_text(body, "access_token", title=title)
    return body


def required_text(body: dict[str, Any], key: str, *, title: str) -> str:
    """A field the provider must send; without it the answer is unusable (502)."""
    value = body.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise BadGateway(f"{title} gave an unexpected answer.")
    return value


def optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and value else None


def truthy(value: object) -> bool:
    """Providers send `true` or `"true"` for booleans."""
    return value is True or (isinstance(value, str) and value.lower() == "true")
