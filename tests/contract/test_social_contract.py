"""API.md §7 and its §8 rows, with the seed README's JSON: social sign-in and linking seen only
through HTTP, against the fake GitHub, Google, LinkedIn and Facebook on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.support.mfa import (
    PASSWORD,
    USER_KEYS,
    Authenticator,
    auth,
    contains_key,
    fresh_step,
    post,
    providers_fixture,
    sign_up_and_log_in,
)

providers = pytest.fixture(providers_fixture, name="providers")


@pytest.fixture
def settings(make_settings: Callable[..., Settings], providers: FakeProviders) -> Settings:
    return make_settings(provider_timeout=2.0, **providers.settings_overrides())


PROFILE_KEYS = {
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


def request_for(providers: FakeProviders, provider: str, email: str, uid: str) -> dict[str, Any]:
    """The body the front end sends for a provider account the fake provider knows."""
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


async def social(
    client: Client, provider: str, body: dict[str, Any], token: str | None = None
) -> tuple[int, Any]:
    return await post(client, f"/social/{provider}", body, token)


@pytest.mark.parametrize("provider", ["github", "google", "linkedin", "facebook"])
async def test_new_sign_in_answers_the_seed_shape(
    client: Client, providers: FakeProviders, provider: str
) -> None:
    body = request_for(providers, provider, f"{provider}@example.com", "1")
    response = await client.post(f"/social/{provider}", json=body)
    assert response.status_code == 200, await response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    answer = await response.get_json()
    assert set(answer) == {"auth", "success", "user"}
    assert answer["success"] is True
    assert set(answer["auth"]) == AUTH_KEYS[provider]
    assert answer["auth"]["access_token"]
    user = answer["user"]
    assert set(user) == USER_KEYS
    assert user["email"] == f"{provider}@example.com"
    assert user["mfa_enabled"] is False and user["active"] in (True, 1)
    # Verified when the provider verified the email; Facebook never is (API.md §8).
    assert user["verified"] is (provider != "facebook")
    assert (await client.get("/social", headers=auth(user["access_token"]))).status_code == 200
    # The same provider account again: the same person.
    again = request_for(providers, provider, f"{provider}@example.com", "1")
    status, second = await social(client, provider, again)
    assert status == 200 and second["user"]["entity_id"] == user["entity_id"]


async def test_get_social_lists_the_login_methods_in_the_seed_shape(
    client: Client, providers: FakeProviders
) -> None:
    token = await sign_up_and_log_in(client, "ada@example.com")
    status, body = await social(
        client, "github", request_for(providers, "github", "elsewhere@example.com", "5"), token
    )
    assert status == 200, body
    response = await client.get("/social", headers=auth(token))
    assert response.status_code == 200
    listing = await response.get_json()
    assert set(listing) == {"login_methods", "success"} and listing["success"] is True
    by_provider = {m["provider"]: m for m in listing["login_methods"]}
    assert set(by_provider) == {"signup", "github"}
    for method in listing["login_methods"]:
        assert set(method) == {"profile", "provider"}
        assert set(method["profile"]) == PROFILE_KEYS
        assert method["profile"]["name"] == method["provider"]
        assert len(method["profile"]["entity_id"]) == 32
    assert by_provider["github"]["profile"]["access_token"] == body["auth"]["access_token"]
    assert by_provider["github"]["profile"]["email"] == "elsewhere@example.com"
    assert (await client.get("/social")).status_code == 401


async def test_delete_login_method_seed_messages(client: Client, providers: FakeProviders) -> None:
    token = await sign_up_and_log_in(client, "ada@example.com")
    other = await sign_up_and_log_in(client, "bob@example.com")
    await social(client, "github", request_for(providers, "github", "gh@example.com", "6"), token)
    methods = (await (await client.get("/social", headers=auth(token))).get_json())["login_methods"]
    github = next(m["profile"]["entity_id"] for m in methods if m["provider"] == "github")
    # Not the caller's: 400 with the seed's message.
    response = await client.delete(f"/social/{github}", headers=auth(other))
    assert response.status_code == 400
    assert await response.get_json() == {
        "message": f"This user doesn't have login method {github}",
        "success": False,
    }
    for odd in ("not-hex", "0" * 32, "x" * 300):
        response = await client.delete(f"/social/{odd}", headers=auth(token))
        assert response.status_code == 400, odd
    response = await client.delete(f"/social/{github}", headers=auth(token))
    assert response.status_code == 200
    assert await response.get_json() == {"message": "Login method is deleted", "success": True}
    assert (await client.delete(f"/social/{github}", headers=auth(token))).status_code == 400
    assert (await client.delete(f"/social/{github}")).status_code == 401


async def test_the_last_way_to_sign_in_cannot_be_deleted(
    client: Client, providers: FakeProviders
) -> None:
    status, body = await social(
        client, "github", request_for(providers, "github", "only@example.com", "8")
    )
    assert status == 200
    token = body["user"]["access_token"]
    methods = (await (await client.get("/social", headers=auth(token))).get_json())["login_methods"]
    assert [m["provider"] for m in methods] == ["github"]
    response = await client.delete(
        f"/social/{methods[0]['profile']['entity_id']}", headers=auth(token)
    )
    assert response.status_code == 409
    assert (await response.get_json())["success"] is False


async def test_linking_while_signed_in_and_conflicts(
    client: Client, providers: FakeProviders
) -> None:
    ada = await sign_up_and_log_in(client, "ada@example.com")
    bob = await sign_up_and_log_in(client, "bob@example.com")
    status, linked = await social(
        client, "google", request_for(providers, "google", "ada.g@example.com", "9"), ada
    )
    assert status == 200, linked
    assert linked["user"]["email"] == "ada@example.com"
    # That Google account belongs to Ada now: Bob cannot link it.
    status, body = await social(
        client, "google", request_for(providers, "google", "ada.g@example.com", "9"), bob
    )
    assert status == 409 and body["success"] is False
    # Signed out, it signs Ada in.
    status, body = await social(
        client, "google", request_for(providers, "google", "ada.g@example.com", "9")
    )
    assert status == 200 and body["user"]["email"] == "ada@example.com"


async def test_existing_email_links_only_when_the_provider_verified_it(
    client: Client, providers: FakeProviders
) -> None:
    token = await sign_up_and_log_in(client, "ada@example.com")
    status, login = await post(client, "/login", {"email": "ada@example.com", "password": PASSWORD})
    entity_id = login["user"]["entity_id"]
    # LinkedIn saying the address is not verified: 409, sign in and link.
    code = providers.linkedin_account("li-x", email="ada@example.com", email_verified=False)
    status, body = await social(client, "linkedin", {"code": code})
    assert status == 409 and body["success"] is False
    # Facebook emails are never treated as verified: 409 too.
    status, body = await social(
        client, "facebook", request_for(providers, "facebook", "ada@example.com", "2")
    )
    assert status == 409 and body["success"] is False
    # Google vouching for the address: linked to the existing person.
    status, body = await social(
        client, "google", request_for(providers, "google", "ADA@example.com", "3")
    )
    assert status == 200, body
    assert body["user"]["entity_id"] == entity_id
    assert body["user"]["verified"] is True
    # Linked, not taken over: the password still works and both methods are listed.
    status, login = await post(client, "/login", {"email": "ada@example.com", "password": PASSWORD})
    assert status == 200, login
    assert login["user"]["entity_id"] == entity_id
    listing = await (await client.get("/social", headers=auth(token))).get_json()
    assert {m["provider"] for m in listing["login_methods"]} == {"signup", "google"}


async def test_invalid_authorization_on_social_is_401(
    client: Client, providers: FakeProviders
) -> None:
    for header in ("Basic nonsense", "Bearer", "Token abc", "Basic " + "a" * 5000):
        body = request_for(providers, "github", "x@example.com", "11")
        response = await client.post("/social/github", json=body, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert "WWW-Authenticate" not in response.headers
    token = await sign_up_and_log_in(client, "y@example.com")
    assert (await post(client, "/logout", {}, token))[0] == 200
    status, _ = await social(
        client, "github", request_for(providers, "github", "x@example.com", "11"), token
    )
    assert status == 401  # a revoked token is not "signed out"


async def test_refused_codes_are_401(client: Client, providers: FakeProviders) -> None:
    assert (await social(client, "github", {"code": "unknown"}))[0] == 401
    assert (await social(client, "linkedin", {"code": "unknown"}))[0] == 401
    assert (await social(client, "google", {"idtoken": "not.a.jwt"}))[0] == 401
    fb = request_for(providers, "facebook", "f@example.com", "12")
    fb["userID"] = "someone-else"
    assert (await social(client, "facebook", fb))[0] == 401


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("github", "/github/oauth/access_token"),
        ("google", "/google/certs"),
        ("linkedin", "/linkedin/api/userinfo"),
        ("facebook", "/facebook/debug_token"),
    ],
)
@pytest.mark.parametrize(("fault", "status"), [("500", 502), ("bad_json", 502), ("hang", 504)])
async def test_provider_failures(
    client: Client, providers: FakeProviders, provider: str, path: str, fault: str, status: int
) -> None:
    providers.faults[path] = fault
    body = request_for(providers, provider, "p@example.com", "13")
    response = await asyncio.wait_for(client.post(f"/social/{provider}", json=body), timeout=10)
    assert response.status_code == status
    answer = await response.get_json()
    assert answer["success"] is False and answer["message"]


async def test_mfa_person_signing_in_socially_gets_the_second_factor_step(
    client: Client, providers: FakeProviders
) -> None:
    status, body = await social(
        client, "github", request_for(providers, "github", "m@example.com", "14")
    )
    token = body["user"]["access_token"]
    status, qr = await post(client, "/qrcode", {"login_type": "social"}, token)
    assert status == 200, qr
    app = Authenticator(qr["secret"], await fresh_step())
    assert (await post(client, "/verify_otp", {"otp": app.code(-1)}, token))[0] == 200
    assert (await post(client, "/setup_mfa", {"mfa_enabled": True, "otp": app.code()}, token))[
        0
    ] == 200
    status, body = await social(
        client, "github", request_for(providers, "github", "m@example.com", "14")
    )
    assert status == 200
    assert set(body) == {"success", "user", "mfa_token"}
    assert body["user"] == {"mfa_enabled": True, "email": "m@example.com", "verified": True}
    assert not contains_key(body, "access_token") and "auth" not in body
    status, done = await post(
        client, "/login_mfa", {"mfa_token": body["mfa_token"], "otp": app.code(1)}
    )
    assert status == 200, done
    assert done["message"] == "The TOTP MFA token is valid" and done["user"]["access_token"]


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
async def test_odd_social_bodies_never_500(
    client: Client, provider: str, body: dict[str, Any]
) -> None:
    status, answer = await social(client, provider, body)
    assert status in (400, 401), answer
    assert answer["success"] is False
