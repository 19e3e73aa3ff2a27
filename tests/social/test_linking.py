"""Social sign-in and linking: a new provider account makes a person, the same one signs them
in again; signed in links to the caller; signed out links by verified email only (an unverified
owner is taken over instead: see test_takeover.py); a provider account has one owner; an MFA
person still needs the second factor."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select

from quart_template.accounts.models import LoginMethod, Person
from quart_template.runtime import Runtime
from tests.fakes.providers import FakeProviders
from tests.support.accounts import USER_FIELDS, emails
from tests.support.factories import DEFAULT_PASSWORD, create_person, signed_in
from tests.support.http import auth, json_error
from tests.support.mfa import contains_key, enrol, freeze_totp_clock
from tests.support.social import PROVIDERS, sign_in_body

AUTH_KEYS = {
    "github": {"access_token", "scope", "token_type"},
    "google": {"access_token", "expires_in", "name", "sub"},
    "linkedin": {"access_token", "expires_in", "name"},
    "facebook": {
        "access_token",
        "data_access_expiration_time",
        "email",
        "expires_in",
        "name",
        "scope",
        "user_name",
    },
}


async def _linked_notices(rt: Runtime) -> list[dict[str, Any]]:
    return await emails(rt, event="SOCIAL_LINKED")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_new_sign_in_answers_the_user_and_the_provider_auth(
    client: Client, providers: FakeProviders, provider: str
) -> None:
    body = sign_in_body(providers, provider, f"{provider}@example.com", "1")
    response = await client.post(f"/social/{provider}", json=body)
    assert response.status_code == 200, await response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    answer = await response.get_json()
    assert set(answer) == {"auth", "success", "user"} and answer["success"] is True
    assert set(answer["auth"]) == AUTH_KEYS[provider]
    assert answer["auth"]["access_token"]
    user = answer["user"]
    assert set(user) == USER_FIELDS
    assert user["email"] == f"{provider}@example.com"
    assert user["mfa_enabled"] is False and user["active"] is True
    # Verified when the provider verified the email; Facebook emails never count as verified.
    assert user["verified"] is (provider != "facebook")
    assert (await client.get("/social", headers=auth(user["access_token"]))).status_code == 200
    # The same provider account again: the same person.
    again = sign_in_body(providers, provider, f"{provider}@example.com", "1")
    second = await (await client.post(f"/social/{provider}", json=again)).get_json()
    assert second["user"]["entity_id"] == user["entity_id"]


async def test_signed_in_caller_links_a_github_account(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    caller = await signed_in(rt, email="ada@example.com")
    code = providers.github_account(1, email="different@example.com")
    response = await client.post("/social/github", json={"code": code}, headers=caller.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert body["user"]["entity_id"] == caller.person.entity_id
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["access_token"] == caller.token
    listed = await (await client.get("/social", headers=caller.headers)).get_json()
    assert sorted(m["provider"] for m in listed["login_methods"]) == ["github", "signup"]
    notices = await _linked_notices(rt)
    assert len(notices) == 1 and notices[0]["to_emails"] == ["ada@example.com"]
    # Signed out, that GitHub account now signs the caller in.
    code = providers.github_account(1, email="different@example.com")
    again = await (await client.post("/social/github", json={"code": code})).get_json()
    assert again["user"]["entity_id"] == caller.person.entity_id


async def test_linking_again_to_the_same_caller_is_fine(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    caller = await signed_in(rt)
    for _ in range(2):
        code = providers.github_account(1, email="ada@example.com")
        response = await client.post("/social/github", json={"code": code}, headers=caller.headers)
        assert response.status_code == 200
    async with rt.db() as db:
        count = await db.scalar(
            select(func.count()).select_from(LoginMethod).where(LoginMethod.provider == "github")
        )
    assert count == 1
    assert len(await _linked_notices(rt)) == 1


async def test_linking_an_account_owned_by_someone_else_is_409(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    first = await client.post(
        "/social/github", json={"code": providers.github_account(1, email="gh@example.com")}
    )
    assert first.status_code == 200
    caller = await signed_in(rt, email="ada@example.com")
    code = providers.github_account(1, email="gh@example.com")
    response = await client.post("/social/github", json={"code": code}, headers=caller.headers)
    assert response.status_code == 409
    assert (await response.get_json())["success"] is False


async def test_an_invalid_authorization_header_is_401_not_anonymous(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    code = providers.github_account(1, email="gh@example.com")
    for header in (
        "Basic forged.token.value",
        "Token abc",
        "Basic",
        "Bearer",
        "Basic " + "a" * 5000,
    ):
        response = await client.post(
            "/social/github", json={"code": code}, headers={"Authorization": header}
        )
        await json_error(response, 401)
    # A revoked token is not "signed out" either.
    revoked = await signed_in(rt, email="y@example.com")
    assert (await client.post("/logout", headers=revoked.headers)).status_code == 200
    response = await client.post("/social/github", json={"code": code}, headers=revoked.headers)
    await json_error(response, 401)
    async with rt.db() as db:
        assert await db.scalar(select(func.count()).select_from(Person)) == 1


async def test_verified_provider_email_links_to_the_existing_person(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    owner = await signed_in(rt, email="Ada@Example.com")
    token = providers.google_token(email="ada@example.com", email_verified=True)
    response = await client.post("/social/google", json={"idtoken": token})
    assert response.status_code == 200
    assert (await response.get_json())["user"]["entity_id"] == owner.person.entity_id
    assert len(await _linked_notices(rt)) == 1
    # The password and the sessions still work: linking took nothing from a verified owner.
    login = await client.post(
        "/login", json={"email": "ada@example.com", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200
    listing = await client.get("/social", headers=owner.headers)
    assert {m["provider"] for m in (await listing.get_json())["login_methods"]} == {
        "signup",
        "google",
    }


async def test_unverified_provider_email_is_409_and_changes_nothing(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    await create_person(rt, email="ada@example.com")
    token = providers.google_token(email="ada@example.com", email_verified=False)
    response = await client.post("/social/google", json={"idtoken": token})
    assert response.status_code == 409
    assert "link" in (await response.get_json())["message"]
    async with rt.db() as db:
        assert await db.scalar(select(func.count()).select_from(Person)) == 1
        assert await db.scalar(select(func.count()).select_from(LoginMethod)) == 1
    assert await _linked_notices(rt) == []


async def test_mfa_person_gets_the_second_factor_step_not_a_token(
    client: Client, rt: Runtime, providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await signed_in(rt, email="ada@example.com", password=None)
    enrolled = await enrol(client, person, freeze_totp_clock(monkeypatch), login_type="social")
    token = providers.google_token(email="ada@example.com")
    response = await client.post("/social/google", json={"idtoken": token})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert set(body) == {"success", "user", "mfa_token"}
    assert body["user"] == {"mfa_enabled": True, "email": "ada@example.com", "verified": True}
    assert not contains_key(body, "access_token") and "auth" not in body
    done = await client.post(
        "/login_mfa", json={"mfa_token": body["mfa_token"], "otp": enrolled.code()}
    )
    assert done.status_code == 200
    signed_in_body = await done.get_json()
    assert signed_in_body["message"] == "The TOTP MFA token is valid"
    assert signed_in_body["user"]["access_token"]


async def test_two_simultaneous_first_sign_ins_make_one_person(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    codes = [providers.github_account(77, email="race@example.com") for _ in range(5)]
    responses = await asyncio.gather(
        *(client.post("/social/github", json={"code": code}) for code in codes)
    )
    assert [r.status_code for r in responses] == [200] * 5
    ids = {(await r.get_json())["user"]["entity_id"] for r in responses}
    assert len(ids) == 1
    async with rt.db() as db:
        assert await db.scalar(select(func.count()).select_from(Person)) == 1
        assert await db.scalar(select(func.count()).select_from(LoginMethod)) == 1


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("github", {}),
        ("github", {"code": None}),
        ("github", {"code": 123}),
        ("github", {"code": ""}),
        ("github", {"code": "x" * 10_000}),
        ("github", {"code": "abc", "extra": 1}),
        ("google", {"idtoken": ["a"]}),
        ("google", {"idtoken": "a.b.c"}),
        ("linkedin", {"code": {"a": 1}}),
        ("facebook", {"accessToken": "t"}),
        ("facebook", {"accessToken": "t", "userID": None}),
        ("facebook", {"accessToken": "t", "userID": "1", "expiresIn": 10**40}),
        ("facebook", {"accessToken": "t", "userID": "1", "expiresIn": "soon"}),
    ],
)
async def test_an_odd_sign_in_body_is_a_400_or_401(
    client: Client, provider: str, body: dict[str, Any]
) -> None:
    response = await client.post(f"/social/{provider}", json=body)
    assert response.status_code in (400, 401)
    await json_error(response, response.status_code)
