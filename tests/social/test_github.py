"""GitHub sign-in through the fake GitHub on loopback."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select

from quart_template.accounts.models import LoginMethod, Person
from quart_template.runtime import Runtime
from tests.fakes.providers import FakeProviders


async def test_new_github_sign_in_creates_a_verified_person(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    code = providers.github_account(101, email="ada@example.com")
    response = await client.post("/social/github", json={"code": code})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["success"] is True
    assert set(body["auth"]) == {"access_token", "scope", "token_type"}
    assert body["auth"]["token_type"] == "bearer"
    user = body["user"]
    assert user["email"] == "ada@example.com"
    assert user["verified"] is True
    assert user["login_method"] == "github"
    assert user["first_name"] == "Ada Lovelace"
    assert user["access_token"] and user["expires_in"] > 0
    me = await client.get("/social", headers={"Authorization": f"Basic {user['access_token']}"})
    assert me.status_code == 200
    methods = (await me.get_json())["login_methods"]
    assert [m["provider"] for m in methods] == ["github"]
    assert methods[0]["profile"]["access_token"] is None  # EXPOSE_PROVIDER_TOKENS is off


async def test_the_same_github_account_signs_the_same_person_in(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    first = await client.post(
        "/social/github", json={"code": providers.github_account(7, email="a@example.com")}
    )
    second = await client.post(
        "/social/github", json={"code": providers.github_account(7, email="a@example.com")}
    )
    one, two = (await first.get_json())["user"], (await second.get_json())["user"]
    assert one["entity_id"] == two["entity_id"]
    assert one["access_token"] != two["access_token"]
    async with rt.db() as db:
        assert await db.scalar(select(func.count()).select_from(Person)) == 1
        assert await db.scalar(select(func.count()).select_from(LoginMethod)) == 1


async def test_user_and_emails_are_fetched_concurrently(
    client: Client, providers: FakeProviders
) -> None:
    providers.together = {"/github/api/user", "/github/api/user/emails"}
    code = providers.github_account(4, email="ada@example.com")
    assert (await client.post("/social/github", json={"code": code})).status_code == 200
    assert providers.met


async def test_null_profile_email_uses_the_primary_verified_address(
    client: Client, providers: FakeProviders
) -> None:
    code = providers.github_account(
        5,
        email=None,
        emails=[
            {"email": "old@example.com", "primary": False, "verified": True},
            {"email": "main@example.com", "primary": True, "verified": True},
        ],
    )
    response = await client.post("/social/github", json={"code": code})
    assert response.status_code == 200
    user = (await response.get_json())["user"]
    assert user["email"] == "main@example.com" and user["verified"] is True


async def test_unverified_github_email_makes_an_unverified_person(
    client: Client, providers: FakeProviders
) -> None:
    code = providers.github_account(
        6,
        email="new@example.com",
        emails=[{"email": "new@example.com", "primary": True, "verified": False}],
    )
    user = (await (await client.post("/social/github", json={"code": code})).get_json())["user"]
    assert user["verified"] is False


async def test_a_refused_code_is_401(client: Client, providers: FakeProviders) -> None:
    response = await client.post("/social/github", json={"code": "not-a-code"})
    assert response.status_code == 401
    assert (await response.get_json())["success"] is False


async def test_a_used_code_is_refused(client: Client, providers: FakeProviders) -> None:
    code = providers.github_account(8, email="x@example.com")
    assert (await client.post("/social/github", json={"code": code})).status_code == 200
    assert (await client.post("/social/github", json={"code": code})).status_code == 401


async def test_github_account_without_any_email_is_a_clear_400(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    code = providers.github_account(9, email=None, emails=[])
    response = await client.post("/social/github", json={"code": code})
    assert response.status_code == 400
    assert "email" in (await response.get_json())["message"]
    async with rt.db() as db:
        assert await db.scalar(select(func.count()).select_from(Person)) == 0


async def test_body_is_validated(client: Client, providers: FakeProviders) -> None:
    assert (await client.post("/social/github", json={})).status_code == 400
    assert (
        await client.post("/social/github", json={"code": "x", "verified": True})
    ).status_code == 400
