"""LinkedIn (OpenID Connect) and Facebook (token checked with debug_token) sign-in."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from tests.fakes.providers import FakeProviders
from tests.support.factories import create_person


async def test_new_linkedin_sign_in(client: Client, providers: FakeProviders) -> None:
    code = providers.linkedin_account("li-1", email="ada@example.com")
    response = await client.post("/social/linkedin", json={"code": code})
    assert response.status_code == 200
    body = await response.get_json()
    assert body["auth"]["name"] == "linkedin"
    assert body["auth"]["expires_in"] == 5183999
    assert body["user"]["first_name"] == "Ada" and body["user"]["last_name"] == "Lovelace"
    assert body["user"]["verified"] is True
    assert body["user"]["login_method"] == "linkedin"


async def test_refused_linkedin_code_is_401(client: Client, providers: FakeProviders) -> None:
    assert (await client.post("/social/linkedin", json={"code": "nope"})).status_code == 401


def _facebook_body(token: str, user_id: str) -> dict[str, object]:
    return {
        "accessToken": token,
        "data_access_expiration_time": 1652186921,
        "expiresIn": 4279,
        "grantedScopes": "email,public_profile",
        "userID": user_id,
        "email": "liar@example.com",
        "name": "Someone Else",
    }


async def test_unverified_linkedin_email_of_an_existing_person_is_409(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    await create_person(rt, email="ada@example.com")
    code = providers.linkedin_account("li-x", email="ada@example.com", email_verified=False)
    response = await client.post("/social/linkedin", json={"code": code})
    assert response.status_code == 409
    assert (await response.get_json())["success"] is False


async def test_new_facebook_sign_in_uses_what_facebook_says(
    client: Client, providers: FakeProviders
) -> None:
    token = providers.facebook_token("fb-1", email="ada@example.com")
    response = await client.post("/social/facebook", json=_facebook_body(token, "fb-1"))
    assert response.status_code == 200
    body = await response.get_json()
    assert body["user"]["email"] == "ada@example.com"  # from /me, not the body
    assert body["user"]["first_name"] == "Ada"
    assert body["user"]["verified"] is False  # Facebook emails are not treated as verified
    auth = body["auth"]
    assert auth["name"] == "facebook" and auth["user_name"] == "Ada Lovelace"
    assert auth["email"] == "ada@example.com" and auth["expires_in"] == 4279
    assert auth["scope"] == "email,public_profile"


async def test_facebook_token_of_another_app_is_401(
    client: Client, providers: FakeProviders
) -> None:
    token = providers.facebook_token("fb-1", email="ada@example.com", app_id="other-app")
    response = await client.post("/social/facebook", json=_facebook_body(token, "fb-1"))
    assert response.status_code == 401


async def test_facebook_token_of_another_user_is_401(
    client: Client, providers: FakeProviders
) -> None:
    token = providers.facebook_token("fb-attacker", email="evil@example.com")
    response = await client.post("/social/facebook", json=_facebook_body(token, "fb-victim"))
    assert response.status_code == 401


async def test_invalid_facebook_token_is_401(client: Client, providers: FakeProviders) -> None:
    expired = providers.facebook_token("fb-1", email="ada@example.com", valid=False)
    for token in (expired, "made-up-token"):
        response = await client.post("/social/facebook", json=_facebook_body(token, "fb-1"))
        assert response.status_code == 401


async def test_facebook_email_of_an_existing_person_is_409_sign_in_and_link(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    await create_person(rt, email="ada@example.com")
    token = providers.facebook_token("fb-1", email="ada@example.com")
    response = await client.post("/social/facebook", json=_facebook_body(token, "fb-1"))
    assert response.status_code == 409
    assert "link" in (await response.get_json())["message"]


async def test_facebook_sdk_fields_are_accepted_unknown_ones_refused(
    client: Client, providers: FakeProviders
) -> None:
    token = providers.facebook_token("fb-1", email="ada@example.com")
    body = {
        **_facebook_body(token, "fb-1"),
        "graphDomain": "facebook",
        "signedRequest": "abc.def",
        "reauthorize_required_in": 7776000,
        "id": "fb-1",
        "picture": {"data": {"url": "https://example.com/p.png"}},
    }
    assert (await client.post("/social/facebook", json=body)).status_code == 200
    refused = await client.post("/social/facebook", json={**body, "verified": True})
    assert refused.status_code == 400
