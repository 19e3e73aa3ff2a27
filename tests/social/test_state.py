"""`POST /social/<provider> {code, state}`: the state must name a live flow of this provider,
once; the code is exchanged with that flow's verifier and redirect URI, so a code started by
one flow cannot be finished with another's; Google's ID token must carry the flow's nonce. The
seed's bodies keep working beside it (SOCIAL_REQUIRE_STATE=false)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer
from quart.typing import TestClientProtocol as Client
from sqlalchemy import update

from quart_template.mfa.crypto import encrypt_text
from quart_template.runtime import Runtime
from quart_template.social.models import SocialFlow
from tests.fakes.providers import FakeProviders
from tests.support.accounts import emails
from tests.support.factories import signed_in
from tests.support.http import auth, json_error
from tests.support.mfa import contains_key, enrol, freeze_totp_clock
from tests.support.retention import ago, keys
from tests.support.social import (
    PROVIDERS,
    account_code,
    browser_sign_in,
    consent,
    sign_in_body,
    start_flow,
)

PKCE = ("github", "google", "linkedin")
TOKEN_PATHS = {
    "github": "/github/oauth/access_token",
    "google": "/google/token",
    "linkedin": "/linkedin/oauth/accessToken",
    "facebook": "/facebook/oauth/access_token",
}


async def _code_and_state(
    client: Client, providers: FakeProviders, provider: str, uid: str = "1"
) -> dict[str, str]:
    """A sign-in started and consented to: what the provider sent back (`code`, `state`)."""
    started = await start_flow(client, provider)
    code = account_code(providers, provider, f"{provider}@example.com", uid)
    return await consent(providers, provider, started["url"], code)


async def _age_flows(rt: Runtime, **values: Any) -> None:
    async with rt.engine.begin() as conn:
        await conn.execute(update(SocialFlow).values(**values))


@pytest.mark.parametrize("flow", ["seed", "server"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_provider_signs_in_through_both_flows(
    client: Client, providers: FakeProviders, provider: str, flow: str
) -> None:
    email = f"{provider}@example.com"
    if flow == "seed":
        body = sign_in_body(providers, provider, email, "1")
        response = await client.post(f"/social/{provider}", json=body)
    else:
        response = await browser_sign_in(client, providers, provider, email, "1")
    assert response.status_code == 200, await response.get_json()
    answer = await response.get_json()
    assert answer["user"]["email"] == email and answer["user"]["login_method"] == provider
    assert answer["auth"]["access_token"] and answer["user"]["access_token"]
    # The same provider account signs the same person in through the other flow.
    if flow == "seed":
        again = await browser_sign_in(client, providers, provider, email, "1")
    else:
        body = sign_in_body(providers, provider, email, "1")
        again = await client.post(f"/social/{provider}", json=body)
    assert (await again.get_json())["user"]["entity_id"] == answer["user"]["entity_id"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_provider_got_the_flows_redirect_uri_and_verifier(
    client: Client, providers: FakeProviders, provider: str
) -> None:
    # The fake refuses a bound code unless both match what the authorize visit asked for.
    response = await browser_sign_in(client, providers, provider, "ada@example.com", "1")
    assert response.status_code == 200
    [visit] = providers.authorize_requests[provider]
    assert ("code_challenge" in visit) is (provider in PKCE)
    assert providers.bindings == {}  # the bound code was redeemed


@pytest.mark.parametrize("provider", PKCE)
async def test_a_code_of_one_flow_cannot_finish_with_another_flows_state(
    client: Client, providers: FakeProviders, provider: str
) -> None:
    mine = await _code_and_state(client, providers, provider, "1")
    other = await start_flow(client, provider)  # another browser's sign-in
    injected = {"code": mine["code"], "state": other["state"]}

    response = await client.post(f"/social/{provider}", json=injected)

    # Our side sends the other flow's verifier: the provider itself refuses the code.
    await json_error(response, 401)
    assert providers.calls[TOKEN_PATHS[provider]] == 1
    # That spent the other flow too; the code is gone at the provider.
    await json_error(await client.post(f"/social/{provider}", json=mine), 401)


@pytest.mark.parametrize("provider", ["github", "google", "facebook"])
async def test_a_replayed_state_is_refused(
    client: Client, providers: FakeProviders, provider: str
) -> None:
    back = await _code_and_state(client, providers, provider)
    assert (await client.post(f"/social/{provider}", json=back)).status_code == 200
    calls = providers.calls[TOKEN_PATHS[provider]]

    fresh_code = account_code(providers, provider, "ada@example.com", "2")
    for body in (back, {"code": fresh_code, "state": back["state"]}):
        refused = await json_error(await client.post(f"/social/{provider}", json=body), 401)
        assert refused["message"] == "This sign-in was already finished; please start again."
    assert providers.calls[TOKEN_PATHS[provider]] == calls  # refused before the provider


@pytest.mark.parametrize("provider", PKCE)
async def test_a_wrong_verifier_is_refused_by_the_provider(
    client: Client, rt: Runtime, providers: FakeProviders, provider: str
) -> None:
    back = await _code_and_state(client, providers, provider)
    [flow_key] = await keys(rt.engine, SocialFlow)
    async with rt.db() as db, db.begin():
        row = await db.get_one(SocialFlow, flow_key)
        row.code_verifier_encrypted = encrypt_text(
            "x" * 64, key=rt.settings.encryption_key, context=f"social_flow:{row.id_hash}"
        )

    response = await client.post(f"/social/{provider}", json=back)

    await json_error(response, 401)
    assert providers.calls[TOKEN_PATHS[provider]] == 1  # the provider said no


@pytest.mark.parametrize("provider", ["github", "google"])
async def test_an_expired_state_is_refused(
    client: Client, rt: Runtime, providers: FakeProviders, provider: str
) -> None:
    back = await _code_and_state(client, providers, provider)
    await _age_flows(rt, created_at=ago(11 / 1440), expires_at=ago(1 / 1440))

    refused = await json_error(await client.post(f"/social/{provider}", json=back), 401)

    assert refused["message"] == "This sign-in has expired; please start again."
    assert TOKEN_PATHS[provider] not in providers.calls


async def test_another_providers_state_is_refused_and_stays_usable(
    client: Client, providers: FakeProviders
) -> None:
    github = await _code_and_state(client, providers, "github")
    linkedin_code = providers.linkedin_account("li-1", email="ada@example.com")

    response = await client.post(
        "/social/linkedin", json={"code": linkedin_code, "state": github["state"]}
    )

    refused = await json_error(response, 401)
    assert refused["message"] == (
        "This sign-in was started with GitHub, not LinkedIn; please start again."
    )
    assert (await client.post("/social/github", json=github)).status_code == 200


@pytest.mark.parametrize(
    "state",
    [
        "not-a-state",
        "InRoaXMgaXMgbm90IG91cnMi.aBcDeF.forged-signature-forged-signatur",
        "x" * 512,
    ],
)
async def test_a_forged_or_garbled_state_is_refused(
    client: Client, providers: FakeProviders, state: str
) -> None:
    code = providers.github_account(1, email="ada@example.com")
    response = await client.post("/social/github", json={"code": code, "state": state})
    body = await json_error(response, 401)
    assert body["message"] == "The sign-in state is not valid or has expired; please start again."


async def test_a_state_signed_for_another_purpose_is_refused(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    mfa_like = URLSafeTimedSerializer(rt.settings.secret_key, salt="mfa-challenge").dumps("a" * 64)
    code = providers.github_account(1, email="ada@example.com")
    response = await client.post("/social/github", json={"code": code, "state": mfa_like})
    await json_error(response, 401)


async def test_parallel_posts_of_one_state_exactly_one_wins(
    client: Client, providers: FakeProviders
) -> None:
    back = await _code_and_state(client, providers, "linkedin")
    answers = await asyncio.gather(*(client.post("/social/linkedin", json=back) for _ in range(6)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 401, 401, 401, 401, 401]
    assert providers.calls[TOKEN_PATHS["linkedin"]] == 1


async def test_the_google_id_token_must_carry_the_flows_nonce(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    back = await _code_and_state(client, providers, "google")
    await _age_flows(rt, nonce="not-the-nonce-google-was-asked-for")

    response = await client.post("/social/google", json=back)

    assert (await json_error(response, 401))["message"] == "The Google ID token is not valid."
    assert providers.calls[TOKEN_PATHS["google"]] == 1


@pytest.mark.parametrize("provider", ["github", "linkedin"])
async def test_seed_codes_without_state_work_unless_social_require_state(
    serve: Callable[..., Any], providers: FakeProviders, provider: str
) -> None:
    lenient = await serve(**providers.settings_overrides())
    body = sign_in_body(providers, provider, "ada@example.com", "1")
    assert (await lenient.post(f"/social/{provider}", json=body)).status_code == 200

    strict = await serve(**providers.settings_overrides(), social_require_state=True)
    body = sign_in_body(providers, provider, "ada@example.com", "1")
    refused = await json_error(await strict.post(f"/social/{provider}", json=body), 401)
    assert f"/social/{provider}/authorize" in refused["message"]
    response = await browser_sign_in(strict, providers, provider, "ada@example.com", "1")
    assert response.status_code == 200


@pytest.mark.parametrize("provider", ["google", "facebook"])
async def test_a_code_of_a_provider_new_to_codes_always_needs_its_state(
    serve: Callable[..., Any], providers: FakeProviders, provider: str
) -> None:
    strict = await serve(**providers.settings_overrides(), social_require_state=True)
    lenient = await serve(**providers.settings_overrides())
    for client in (lenient, strict):
        code = account_code(providers, provider, "ada@example.com", "1")
        response = await client.post(f"/social/{provider}", json={"code": code})
        await json_error(response, 401)
        # The seed's body of that provider (an ID token, an SDK access token) is no code.
        seed = sign_in_body(providers, provider, "ada@example.com", "1")
        assert (await client.post(f"/social/{provider}", json=seed)).status_code == 200


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("google", {"idtoken": "t", "state": "s"}),
        ("google", {"code": "c", "nonce": "n"}),
        ("google", {"code": "c", "idtoken": "t"}),
        ("google", {"state": "s"}),
        ("facebook", {"code": "c", "accessToken": "t", "userID": "1"}),
        ("facebook", {"accessToken": "t", "userID": "1", "state": "s"}),
        ("facebook", {"code": "c", "userID": "1"}),
        ("github", {"state": "s"}),
        ("linkedin", {"code": "c", "state": ""}),
    ],
)
async def test_mixed_bodies_are_400(
    client: Client, providers: FakeProviders, provider: str, body: dict[str, str]
) -> None:
    await json_error(await client.post(f"/social/{provider}", json=body), 400)


async def test_an_unconfigured_provider_is_501_and_the_state_is_not_spent(
    serve: Callable[..., Any], providers: FakeProviders
) -> None:
    configured = await serve(**providers.settings_overrides())
    back = await _code_and_state(configured, providers, "github")
    # (An instance without the GitHub app, sharing the database.)
    bare = await serve(**{**providers.settings_overrides(), "github_client_id": None})
    await json_error(await bare.post("/social/github", json=back), 501)
    assert (await configured.post("/social/github", json=back)).status_code == 200


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_signed_in_caller_links_through_the_server_flow(
    client: Client, rt: Runtime, providers: FakeProviders, provider: str
) -> None:
    caller = await signed_in(rt, email="ada@example.com")

    response = await browser_sign_in(
        client, providers, provider, "other@example.com", "7", headers=caller.headers
    )

    assert response.status_code == 200, await response.get_json()
    user = (await response.get_json())["user"]
    assert user["entity_id"] == caller.person.entity_id
    assert user["access_token"] == caller.token
    listed = await (await client.get("/social", headers=auth(caller.token))).get_json()
    assert sorted(m["provider"] for m in listed["login_methods"]) == sorted([provider, "signup"])
    assert len(await emails(rt, event="SOCIAL_LINKED")) == 1


async def test_an_mfa_person_still_gets_the_second_factor_step(
    client: Client, rt: Runtime, providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await signed_in(rt, email="ada@example.com", password=None)
    enrolled = await enrol(client, person, freeze_totp_clock(monkeypatch), login_type="social")
    started = await start_flow(client, "google")
    code = providers.google_account("g-mfa", email="ada@example.com")
    back = await consent(providers, "google", started["url"], code)

    response = await client.post("/social/google", json=back)

    body = await response.get_json()
    assert response.status_code == 200 and set(body) == {"success", "user", "mfa_token"}
    assert not contains_key(body, "access_token") and "auth" not in body
    done = await client.post(
        "/login_mfa", json={"mfa_token": body["mfa_token"], "otp": enrolled.code()}
    )
    assert done.status_code == 200 and (await done.get_json())["user"]["access_token"]


@pytest.mark.parametrize("fault", ["500", "bad_json"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_failing_token_endpoint_is_502(
    client: Client, providers: FakeProviders, provider: str, fault: str
) -> None:
    back = await _code_and_state(client, providers, provider)
    providers.faults[TOKEN_PATHS[provider]] = fault
    await json_error(await client.post(f"/social/{provider}", json=back), 502)


async def test_a_slow_token_endpoint_is_504(
    serve: Callable[..., Any], providers: FakeProviders
) -> None:
    client = await serve(**providers.settings_overrides(), provider_timeout=0.3)
    back = await _code_and_state(client, providers, "google")
    providers.faults[TOKEN_PATHS["google"]] = "hang"
    await json_error(await client.post("/social/google", json=back), 504)
