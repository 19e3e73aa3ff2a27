"""Narrow provider checks with respx: odd answers map to the right status."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import respx

from quart_template.errors import APIError
from quart_template.settings import Settings
from quart_template.social.providers import facebook, github, linkedin
from quart_template.social.providers.jwks import _max_age
from quart_template.social.schemas import CodeSignIn, FacebookSignIn

GH_OAUTH = "https://gh.test/oauth"
GH_API = "https://gh.test/api"


@pytest.fixture
def unit_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        github_client_id="id",
        github_oauth_client_secret="secret",
        github_oauth_url=GH_OAUTH,
        github_api_url=GH_API,
        linkedin_client_id="id",
        linkedin_oauth_client_secret="secret",
        linkedin_oauth_url="https://li.test/oauth",
        linkedin_api_url="https://li.test/api",
        facebook_client_id="app",
        facebook_client_secret="secret",
        facebook_graph_url="https://fb.test",
        provider_timeout=2.0,
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _github_token(mock: respx.MockRouter) -> None:
    mock.post(f"{GH_OAUTH}/access_token").respond(
        json={"access_token": "t", "token_type": "bearer", "scope": "user"}
    )


async def _status(coro: object) -> int:
    with pytest.raises(APIError) as caught:
        await coro  # type: ignore[misc]
    return caught.value.status


@respx.mock
async def test_github_token_rejected_by_user_endpoint_is_401(
    unit_settings: Settings, http: httpx.AsyncClient
) -> None:
    _github_token(respx.mock)
    respx.get(f"{GH_API}/user").respond(401, json={"message": "Bad credentials"})
    respx.get(f"{GH_API}/user/emails").respond(401, json={"message": "Bad credentials"})
    call = github.exchange(CodeSignIn(code="c"), http=http, settings=unit_settings)
    assert await _status(call) == 401


@respx.mock
async def test_github_without_email_scope_still_signs_in_unverified(
    unit_settings: Settings, http: httpx.AsyncClient
) -> None:
    _github_token(respx.mock)
    respx.get(f"{GH_API}/user").respond(json={"id": 3, "login": "ada", "email": "a@x.com"})
    respx.get(f"{GH_API}/user/emails").respond(404, json={"message": "Not Found"})
    identity = await github.exchange(CodeSignIn(code="c"), http=http, settings=unit_settings)
    assert identity.provider_user_id == "3"
    assert identity.email == "a@x.com" and identity.email_verified is False
    assert identity.first_name == "ada"


@respx.mock
async def test_github_answers_missing_fields_or_rate_limited_are_502(
    unit_settings: Settings, http: httpx.AsyncClient
) -> None:
    respx.post(f"{GH_OAUTH}/access_token").respond(json={"token_type": "bearer"})
    call = github.exchange(CodeSignIn(code="c"), http=http, settings=unit_settings)
    assert await _status(call) == 502
    _github_token(respx.mock)
    respx.get(f"{GH_API}/user").respond(json={"login": "no-id"})
    respx.get(f"{GH_API}/user/emails").respond(json=[])
    call = github.exchange(CodeSignIn(code="c"), http=http, settings=unit_settings)
    assert await _status(call) == 502
    respx.get(f"{GH_API}/user").respond(429, json={})
    call = github.exchange(CodeSignIn(code="c"), http=http, settings=unit_settings)
    assert await _status(call) == 502


@respx.mock
async def test_linkedin_userinfo_without_sub_is_502(
    unit_settings: Settings, http: httpx.AsyncClient
) -> None:
    respx.post("https://li.test/oauth/accessToken").respond(json={"access_token": "t"})
    respx.get("https://li.test/api/userinfo").respond(json={"email": "a@x.com"})
    call = linkedin.exchange(CodeSignIn(code="c"), http=http, settings=unit_settings)
    assert await _status(call) == 502


@respx.mock
async def test_linkedin_connection_error_is_502(
    unit_settings: Settings, http: httpx.AsyncClient
) -> None:
    respx.post("https://li.test/oauth/accessToken").mock(side_effect=httpx.ConnectError("no"))
    call = linkedin.exchange(CodeSignIn(code="c"), http=http, settings=unit_settings)
    assert await _status(call) == 502


@respx.mock
async def test_facebook_malformed_token_error_is_401(
    unit_settings: Settings, http: httpx.AsyncClient
) -> None:
    respx.get("https://fb.test/debug_token").respond(400, json={"error": {"code": 190}})
    payload = FacebookSignIn(accessToken="t", userID="1")
    assert await _status(facebook.exchange(payload, http=http, settings=unit_settings)) == 401


@respx.mock
async def test_facebook_me_for_a_different_id_is_401(
    unit_settings: Settings, http: httpx.AsyncClient
) -> None:
    respx.get("https://fb.test/debug_token").respond(
        json={"data": {"is_valid": True, "app_id": "app", "user_id": "1"}}
    )
    respx.get("https://fb.test/me").respond(json={"id": "2", "email": "a@x.com"})
    payload = FacebookSignIn(accessToken="t", userID="1")
    assert await _status(facebook.exchange(payload, http=http, settings=unit_settings)) == 401


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("public, max-age=19800, must-revalidate, no-transform", 19800.0),
        ("no-store", 0.0),
        ("no-cache, max-age=100", 0.0),
        (None, 300.0),
        ("max-age=99999999", 86400.0),
    ],
)
def test_jwks_lifetime_follows_cache_control(header: str | None, seconds: float) -> None:
    assert _max_age(header) == seconds
