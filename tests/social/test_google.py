"""Google ID tokens: verified against the fake JWKS; every defect is a 401."""

from __future__ import annotations

import time

import pytest
from quart.typing import TestClientProtocol as Client

from tests.fakes.providers import GOOGLE_CLIENT_ID, FakeProviders
from tests.support.http import json_error

CERTS = "/google/certs"


async def test_new_google_sign_in(client: Client, providers: FakeProviders) -> None:
    token = providers.google_token(sub="113197524860174073434")
    response = await client.post("/social/google", json={"idtoken": token})
    assert response.status_code == 200
    body = await response.get_json()
    assert body["auth"]["name"] == "google"
    assert body["auth"]["sub"] == "113197524860174073434"
    assert body["auth"]["access_token"] == token
    assert isinstance(body["auth"]["expires_in"], int)
    assert body["user"]["first_name"] == "Ada" and body["user"]["last_name"] == "Lovelace"
    assert body["user"]["verified"] is True
    assert body["user"]["login_method"] == "google"


async def test_unverified_google_email_makes_an_unverified_person(
    client: Client, providers: FakeProviders
) -> None:
    token = providers.google_token(email_verified=False)
    body = await (await client.post("/social/google", json={"idtoken": token})).get_json()
    assert body["user"]["verified"] is False


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else.apps.googleusercontent.com"},
        {"iss": "https://evil.example.com"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"sub": None},
        {"exp": None},
    ],
    ids=["wrong-aud", "wrong-iss", "expired", "no-sub", "no-exp"],
)
async def test_bad_claims_are_401(
    client: Client, providers: FakeProviders, claims: dict[str, object]
) -> None:
    token = providers.google_token(**claims)
    response = await client.post("/social/google", json={"idtoken": token})
    assert response.status_code == 401
    assert (await response.get_json())["success"] is False


async def test_both_google_issuer_spellings_are_accepted(
    client: Client, providers: FakeProviders
) -> None:
    token = providers.google_token(iss="accounts.google.com")
    assert (await client.post("/social/google", json={"idtoken": token})).status_code == 200


async def test_a_nonce_sent_must_be_the_tokens(client: Client, providers: FakeProviders) -> None:
    token = providers.google_token(nonce="n-0f3a9c")
    for nonce in ("n-0f3a9c-other", "N-0F3A9C", "n-0f3a9"):
        response = await client.post("/social/google", json={"idtoken": token, "nonce": nonce})
        await json_error(response, 401)
    # A token without a nonce claim does not satisfy a nonce either.
    bare = providers.google_token()
    response = await client.post("/social/google", json={"idtoken": bare, "nonce": "n-0f3a9c"})
    await json_error(response, 401)
    response = await client.post("/social/google", json={"idtoken": token, "nonce": "n-0f3a9c"})
    assert response.status_code == 200
    # Without a nonce in the body, nothing changes for existing front ends.
    again = providers.google_token(nonce="n-77")
    assert (await client.post("/social/google", json={"idtoken": again})).status_code == 200


@pytest.mark.parametrize("nonce", ["", 5, None, ["n"], "n" * 513])
async def test_an_odd_nonce_is_400(client: Client, providers: FakeProviders, nonce: object) -> None:
    body = {"idtoken": providers.google_token(), "nonce": nonce}
    response = await client.post("/social/google", json=body)
    if nonce is None:  # null means "no nonce", as leaving it out does
        assert response.status_code == 200
    else:
        await json_error(response, 400)


async def test_a_signature_by_another_key_is_401(client: Client, providers: FakeProviders) -> None:
    stranger = providers.google_key("stranger", publish=False)
    token = providers.google_token(kid="k1", key=stranger)
    assert (await client.post("/social/google", json={"idtoken": token})).status_code == 401


async def test_a_tampered_payload_is_401(client: Client, providers: FakeProviders) -> None:
    header, _, signature = providers.google_token().split(".")
    other_payload = providers.google_token(sub="victim").split(".")[1]
    token = f"{header}.{other_payload}x.{signature}"
    assert (await client.post("/social/google", json={"idtoken": token})).status_code == 401


@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_alg_tricks_are_401(client: Client, providers: FakeProviders, alg: str) -> None:
    token = providers.forged_token(alg)
    assert (await client.post("/social/google", json={"idtoken": token})).status_code == 401


async def test_garbage_token_is_401(client: Client, providers: FakeProviders) -> None:
    for token in ("not-a-jwt", "a.b.c", "...."):
        assert (await client.post("/social/google", json={"idtoken": token})).status_code == 401


async def test_jwks_is_cached_by_max_age(client: Client, providers: FakeProviders) -> None:
    for sub in ("g-1", "g-2", "g-3"):
        token = providers.google_token(sub=sub, email=f"{sub}@example.com")
        assert (await client.post("/social/google", json={"idtoken": token})).status_code == 200
    assert providers.calls[CERTS] == 1


async def test_no_cache_jwks_is_fetched_each_time(client: Client, providers: FakeProviders) -> None:
    providers.jwks_max_age = 0
    for sub in ("g-1", "g-2"):
        token = providers.google_token(sub=sub, email=f"{sub}@example.com")
        assert (await client.post("/social/google", json={"idtoken": token})).status_code == 200
    assert providers.calls[CERTS] == 2


async def test_unknown_kid_refetches_once_then_is_rate_limited(
    client: Client, providers: FakeProviders
) -> None:
    token = providers.google_token()
    assert (await client.post("/social/google", json={"idtoken": token})).status_code == 200
    # Google rotates: the new key is published after our cache was filled.
    providers.google_key("k2")
    rotated = providers.google_token(kid="k2", sub="g-2", email="b@example.com")
    assert (await client.post("/social/google", json={"idtoken": rotated})).status_code == 200
    assert providers.calls[CERTS] == 2
    # A stream of unknown kids does not turn into a stream of JWKS fetches.
    for kid in ("forged-1", "forged-2"):
        forged = providers.google_token(kid=kid, key=providers.google_key(kid, publish=False))
        assert (await client.post("/social/google", json={"idtoken": forged})).status_code == 401
    assert providers.calls[CERTS] == 2


@pytest.mark.parametrize("fault", ["500", "404", "bad_json"])
async def test_jwks_outage_is_502(client: Client, providers: FakeProviders, fault: str) -> None:
    providers.faults[CERTS] = fault
    response = await client.post("/social/google", json={"idtoken": providers.google_token()})
    assert response.status_code == 502
    assert GOOGLE_CLIENT_ID not in (await response.get_data(as_text=True))
