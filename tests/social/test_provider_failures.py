"""A provider that fails, lies or hangs: a JSON 502/504 within PROVIDER_TIMEOUT, never a 500,
never a half-created person."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select

from quart_template.accounts.models import Person
from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.support.factories import signed_in
from tests.support.social import sign_in_body

SHORT_TIMEOUT = 0.3


FAULT_PATHS = {
    "github": ["/github/oauth/access_token", "/github/api/user", "/github/api/user/emails"],
    "google": ["/google/certs"],
    "linkedin": ["/linkedin/oauth/accessToken", "/linkedin/api/userinfo"],
    "facebook": ["/facebook/debug_token", "/facebook/me"],
}
CASES = [(provider, path) for provider, paths in FAULT_PATHS.items() for path in paths]


@pytest.mark.parametrize(("provider", "path"), CASES)
@pytest.mark.parametrize("fault", ["500", "503", "bad_json"])
async def test_provider_failure_is_502(
    client: Client, rt: Runtime, providers: FakeProviders, provider: str, path: str, fault: str
) -> None:
    providers.faults[path] = fault
    url, body = f"/social/{provider}", sign_in_body(providers, provider, "a@example.com", "1")
    response = await client.post(url, json=body)
    answer = await response.get_json()
    assert response.status_code == 502
    assert answer["success"] is False and answer["message"]
    async with rt.db() as db:
        assert await db.scalar(select(func.count()).select_from(Person)) == 0


@pytest.fixture
async def impatient_app(
    make_settings: Callable[..., Settings], providers: FakeProviders
) -> AsyncIterator[Quart]:
    settings = make_settings(provider_timeout=SHORT_TIMEOUT, **providers.settings_overrides())
    async with create_app(settings).test_app() as test_app:
        yield test_app.app  # type: ignore[misc]


@pytest.mark.parametrize(("provider", "path"), CASES)
async def test_hanging_provider_is_504_within_the_timeout(
    impatient_app: Quart, providers: FakeProviders, provider: str, path: str
) -> None:
    providers.faults[path] = "hang"
    url, body = f"/social/{provider}", sign_in_body(providers, provider, "a@example.com", "1")
    started = time.monotonic()
    response = await impatient_app.test_client().post(url, json=body)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    answer = await response.get_json()
    assert answer["success"] is False and answer["message"]
    assert elapsed < SHORT_TIMEOUT + 2.0  # bounded: never waits for the provider


async def test_unreachable_provider_is_502(
    make_settings: Callable[..., Settings], providers: FakeProviders
) -> None:
    overrides = providers.settings_overrides()
    overrides["github_oauth_url"] = "http://127.0.0.1:9/github/oauth"  # discard port: refused
    async with create_app(make_settings(**overrides)).test_app() as app:
        code = providers.github_account(1, email="a@example.com")
        response = await app.test_client().post("/social/github", json={"code": code})
    assert response.status_code == 502


# Each credential a provider needs; without any one of them it cannot vouch for anybody.
CREDENTIALS = {
    "github": ["github_client_id", "github_oauth_client_secret"],
    "google": ["google_client_id"],
    "linkedin": ["linkedin_client_id", "linkedin_oauth_client_secret"],
    "facebook": ["facebook_client_id", "facebook_client_secret"],
}
TITLES = {"github": "GitHub", "google": "Google", "linkedin": "LinkedIn", "facebook": "Facebook"}
UNCONFIGURED = [(provider, field) for provider, fields in CREDENTIALS.items() for field in fields]


@pytest.mark.parametrize(("provider", "missing"), UNCONFIGURED)
@pytest.mark.parametrize("signed_in_as", [None, "linking"])
async def test_an_unconfigured_provider_is_a_clear_501(
    make_settings: Callable[..., Settings],
    providers: FakeProviders,
    provider: str,
    missing: str,
    signed_in_as: str | None,
) -> None:
    """Signing in and linking (signed in) both call the provider: both say it is not offered."""
    overrides = {**providers.settings_overrides(), missing: None}
    async with create_app(make_settings(**overrides)).test_app() as app:
        headers = {}
        if signed_in_as:
            headers = (await signed_in(app.app.extensions["runtime"])).headers
        url, body = f"/social/{provider}", sign_in_body(providers, provider, "a@example.com", "1")
        response = await app.test_client().post(url, json=body, headers=headers)
    assert response.status_code == 501
    assert await response.get_json() == {
        "success": False,
        "message": f"{TITLES[provider]} sign-in is not configured.",
    }
