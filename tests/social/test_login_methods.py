"""GET /social and DELETE /social/{uuid}: each method with its profile, never the last way in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.accounts.models import LoginMethod
from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.support.factories import DEFAULT_PASSWORD, signed_in
from tests.support.http import json_error


@pytest.fixture
async def exposing(
    make_settings: Callable[..., Settings], providers: FakeProviders
) -> AsyncIterator[tuple[Client, Runtime]]:
    """A client of an app with EXPOSE_PROVIDER_TOKENS=true, and its runtime."""
    settings = make_settings(
        provider_timeout=5.0, expose_provider_tokens=True, **providers.settings_overrides()
    )
    app = create_app(settings)
    async with app.test_app() as served:
        yield served.test_client(), app.extensions["runtime"]


async def _methods(client: Client, headers: dict[str, str]) -> list[dict[str, object]]:
    response = await client.get("/social", headers=headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["success"] is True
    methods: list[dict[str, object]] = body["login_methods"]
    return methods


async def _social_only(client: Client, providers: FakeProviders) -> dict[str, str]:
    code = providers.github_account(1, email="gh@example.com")
    body = await (await client.post("/social/github", json={"code": code})).get_json()
    return {"Authorization": f"Bearer {body['user']['access_token']}"}


async def test_list_has_the_seed_profile_shape(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    caller = await signed_in(rt)
    (method,) = await _methods(client, caller.headers)
    assert method["provider"] == "signup"
    code = providers.github_account(5, email="elsewhere@example.com")
    linked = await client.post("/social/github", json={"code": code}, headers=caller.headers)
    auth = (await linked.get_json())["auth"]
    response = await client.get("/social", headers=caller.headers)
    listing = await response.get_json()
    assert set(listing) == {"login_methods", "success"}
    by_provider = {m["provider"]: m for m in listing["login_methods"]}
    assert set(by_provider) == {"signup", "github"}
    for method in listing["login_methods"]:
        assert set(method) == {"profile", "provider"}
        assert set(method["profile"]) == {
            "access_token",
            "email",
            "entity_id",
            "expires_in",
            "name",
            "refresh_token",
            "refresh_token_expires_in",
            "scope",
            "token_type",
            "user_name",
        }
        assert method["profile"]["name"] == method["provider"]
        assert len(method["profile"]["entity_id"]) == 32
    assert auth["access_token"]
    assert by_provider["github"]["profile"]["email"] == "elsewhere@example.com"
    assert by_provider["github"]["profile"]["token_type"] == "bearer"


async def test_provider_tokens_are_null_by_default(
    client: Client, providers: FakeProviders
) -> None:
    headers = await _social_only(client, providers)
    (method,) = await _methods(client, headers)
    profile = method["profile"]
    assert profile["access_token"] is None and profile["refresh_token"] is None  # type: ignore[index]
    assert profile["scope"] == "user"  # type: ignore[index]


async def test_expose_provider_tokens_shows_the_callers_own(
    exposing: tuple[Client, Runtime], providers: FakeProviders
) -> None:
    client, rt = exposing
    caller = await signed_in(rt)
    code = providers.github_account(5, email="elsewhere@example.com")
    linked = await client.post("/social/github", json={"code": code}, headers=caller.headers)
    auth = (await linked.get_json())["auth"]
    by_provider = {m["provider"]: m for m in await _methods(client, caller.headers)}
    assert by_provider["github"]["profile"]["access_token"] == auth["access_token"]  # type: ignore[index]
    assert by_provider["signup"]["profile"]["access_token"] is None  # type: ignore[index]


async def test_list_requires_login(client: Client) -> None:
    assert (await client.get("/social")).status_code == 401


async def test_provider_tokens_are_encrypted_at_rest(
    exposing: tuple[Client, Runtime], providers: FakeProviders
) -> None:
    client, rt = exposing
    headers = await _social_only(client, providers)
    (method,) = await _methods(client, headers)
    clear = method["profile"]["access_token"]  # type: ignore[index]
    assert clear and clear.startswith("tok-")
    async with rt.db() as db:
        stored = (await db.execute(select(LoginMethod.access_token))).scalar_one()
    assert stored is not None and clear not in stored


async def test_delete_a_linked_method(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    caller = await signed_in(rt)
    code = providers.github_account(1, email="gh@example.com")
    await client.post("/social/github", json={"code": code}, headers=caller.headers)
    github = next(m for m in await _methods(client, caller.headers) if m["provider"] == "github")
    uuid = github["profile"]["entity_id"]  # type: ignore[index]
    response = await client.delete(f"/social/{uuid}", headers=caller.headers)
    assert response.status_code == 200
    assert await response.get_json() == {"message": "Login method is deleted", "success": True}
    assert [m["provider"] for m in await _methods(client, caller.headers)] == ["signup"]
    await json_error(await client.delete(f"/social/{uuid}", headers=caller.headers), 400)
    # The provider account is free again: signing in with it now makes a new person.
    again = await client.post(
        "/social/github", json={"code": providers.github_account(1, email="gh@example.com")}
    )
    assert (await again.get_json())["user"]["entity_id"] != caller.person.entity_id


async def test_deleting_the_last_method_is_409(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    headers = await _social_only(client, providers)
    (method,) = await _methods(client, headers)
    uuid = method["profile"]["entity_id"]  # type: ignore[index]
    await json_error(await client.delete(f"/social/{uuid}", headers=headers), 409)
    assert len(await _methods(client, headers)) == 1


async def test_signup_method_is_kept_when_it_is_the_only_one(client: Client, rt: Runtime) -> None:
    caller = await signed_in(rt)
    (method,) = await _methods(client, caller.headers)
    uuid = method["profile"]["entity_id"]  # type: ignore[index]
    assert (await client.delete(f"/social/{uuid}", headers=caller.headers)).status_code == 409


async def test_a_password_keeps_a_way_in_when_a_provider_is_removed(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    caller = await signed_in(rt)
    code = providers.github_account(1, email="gh@example.com")
    await client.post("/social/github", json={"code": code}, headers=caller.headers)
    signup = next(m for m in await _methods(client, caller.headers) if m["provider"] == "signup")
    uuid = signup["profile"]["entity_id"]  # type: ignore[index]
    # Removing password sign-in while GitHub remains is allowed, and really removes it.
    assert (await client.delete(f"/social/{uuid}", headers=caller.headers)).status_code == 200
    login = await client.post(
        "/login", json={"email": "ada@example.com", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 401
    (github,) = await _methods(client, caller.headers)
    uuid = github["profile"]["entity_id"]  # type: ignore[index]
    assert (await client.delete(f"/social/{uuid}", headers=caller.headers)).status_code == 409


async def test_deleting_someone_elses_method_is_400_with_the_seed_message(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    other = await _social_only(client, providers)
    (theirs,) = await _methods(client, other)
    uuid = theirs["profile"]["entity_id"]  # type: ignore[index]
    caller = await signed_in(rt)
    response = await client.delete(f"/social/{uuid}", headers=caller.headers)
    assert response.status_code == 400
    assert await response.get_json() == {
        "message": f"This user doesn't have login method {uuid}",
        "success": False,
    }
    for unknown in ("7bc8d6066dad49bc889563af3831ab64", "not-hex", "0" * 32, "x" * 300):
        await json_error(await client.delete(f"/social/{unknown}", headers=caller.headers), 400)


async def test_delete_requires_login(client: Client) -> None:
    assert (await client.delete("/social/7bc8d6066dad49bc889563af3831ab64")).status_code == 401


async def test_openapi_documents_the_social_routes(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    paths = spec["paths"]
    for provider in ("github", "google", "linkedin", "facebook"):
        operation = paths[f"/social/{provider}"]["post"]
        assert "requestBody" in operation and "200" in operation["responses"]
    assert "200" in paths["/social"]["get"]["responses"]
    assert "accessToken" in str(spec) and "idtoken" in str(spec)
