"""Signing in with a passkey: discoverable or for an email, a complete sign-in with user
verification, a first factor without it; every check of the assertion refuses with 401."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.passkeys.models import Passkey
from quart_template.runtime import Runtime
from tests.support.accounts import USER_FIELDS
from tests.support.factories import PersonWithToken, signed_in
from tests.support.http import auth, json_error, retry_after
from tests.support.mfa import enrol, freeze_totp_clock
from tests.support.passkeys import (
    ORIGIN,
    expire_challenges,
    login_options,
    passkey_login,
    register,
)
from tests.support.webauthn import SoftAuthenticator


async def _answer(client: Client, credential: dict) -> object:
    return await client.post("/passkeys/login", json={"credential": credential})


async def test_passwordless_sign_in_with_a_discoverable_passkey(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    stored = await register(client, user.headers, authenticator)
    options = await login_options(client)
    assert options["allowCredentials"] == [] and options["rpId"] == "frontend.test"
    assert options["userVerification"] == "preferred"
    response = await _answer(client, authenticator.get(options))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["email"] == user.person.email
    assert body["user"]["login_method"] == "passkey"
    me = await client.get("/me", headers=auth(body["user"]["access_token"]))
    assert me.status_code == 200
    listed = await (await client.get("/passkeys", headers=user.headers)).get_json()
    assert listed["passkeys"][0]["id"] == stored["id"]
    assert listed["passkeys"][0]["last_used"] is not None
    events = await (await client.get("/security_events", headers=user.headers)).get_json()
    assert "login_succeeded" in [e["type"] for e in events["events"]]


async def test_sign_in_for_an_email(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    options = await login_options(client, email=user.person.email.upper())
    assert [c["id"] for c in options["allowCredentials"]] == [authenticator.credentials[0].id]
    assert (await _answer(client, authenticator.get(options))).status_code == 200


async def test_options_for_an_unknown_email_look_real(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    real = await login_options(client, email=user.person.email)
    await signed_in(rt, email="nopasskey@example.com")
    for email in ("nobody@example.com", "nopasskey@example.com"):
        first = await login_options(client, email=email)
        second = await login_options(client, email=email)
        assert set(first) == set(real)
        assert first["allowCredentials"] == second["allowCredentials"]  # stable, like a real one
        assert len(first["allowCredentials"]) == 1
        assert set(first["allowCredentials"][0]) == set(real["allowCredentials"][0])
        assert first["challenge"] != second["challenge"]


async def test_without_user_verification_a_passkey_is_a_first_factor(
    client: Client,
    rt: Runtime,
    user: PersonWithToken,
    authenticator: SoftAuthenticator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await register(client, user.headers, authenticator)
    # Without MFA, a first factor is a sign-in (as a password alone is).
    response = await passkey_login(client, authenticator, user_verified=False)
    assert "access_token" in (await response.get_json())["user"]
    # With TOTP on, the second factor is a code (not the same passkey again).
    clock = freeze_totp_clock(monkeypatch)
    enrolled = await enrol(client, user, clock)
    response = await passkey_login(client, authenticator, user_verified=False)
    body = await response.get_json()
    assert response.status_code == 200 and "access_token" not in body["user"]
    assert body["user"]["mfa_enabled"] is True and "passkey" not in body
    refused = await client.post("/passkeys/login/options", json={"mfa_token": body["mfa_token"]})
    await json_error(refused, 400)
    done = await client.post(
        "/login_mfa", json={"mfa_token": body["mfa_token"], "otp": enrolled.next_code()}
    )
    assert done.status_code == 200 and "access_token" in (await done.get_json())["user"]
    # With user verification it is a whole sign-in, also for an MFA person.
    response = await passkey_login(client, authenticator)
    assert "access_token" in (await response.get_json())["user"]


async def test_wrong_origin_and_wrong_rp_id_are_refused(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    phished = await passkey_login(
        client, authenticator, origin="https://frontend.test.evil.example"
    )
    body = await json_error(phished, 401)
    assert body["message"] == "Invalid passkey."
    await json_error(await passkey_login(client, authenticator, rp_id="evil.example"), 401)
    assert (await passkey_login(client, authenticator)).status_code == 200


async def test_an_assertion_works_once(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    options = await login_options(client)
    credential = authenticator.get(options)
    assert (await _answer(client, credential)).status_code == 200
    await json_error(await _answer(client, credential), 401)
    # A fresh signature (and counter) over the spent challenge is refused too.
    await json_error(await _answer(client, authenticator.get(options)), 401)


async def test_an_expired_challenge_is_refused(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    options = await login_options(client)
    await expire_challenges(rt)
    body = await json_error(await _answer(client, authenticator.get(options)), 401)
    assert "challenge" in body["message"]


async def test_a_made_up_challenge_is_refused(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    forged = {"challenge": "A" * 43, "allowCredentials": []}
    await json_error(await _answer(client, authenticator.get(forged)), 401)


async def test_a_counter_that_goes_back_is_refused_and_recorded(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    assert (await passkey_login(client, authenticator, counter=5)).status_code == 200
    await json_error(await passkey_login(client, authenticator, counter=3), 401)
    await json_error(await passkey_login(client, authenticator, counter=5), 401)
    events = await (await client.get("/security_events", headers=user.headers)).get_json()
    types = [e["type"] for e in events["events"]]
    assert types.count("passkey_counter_regressed") == 2
    assert (await passkey_login(client, authenticator, counter=6)).status_code == 200


async def test_an_authenticator_without_a_counter_keeps_working(
    client: Client, user: PersonWithToken
) -> None:
    counterless = SoftAuthenticator(origin=ORIGIN, counting=False, backup=True)
    await register(client, user.headers, counterless)
    for _ in range(3):
        assert (await passkey_login(client, counterless)).status_code == 200


async def test_the_backup_state_is_kept(client: Client, rt: Runtime, user: PersonWithToken) -> None:
    synced = SoftAuthenticator(origin=ORIGIN, backup=True)
    await register(client, user.headers, synced)
    assert (await passkey_login(client, synced)).status_code == 200
    async with rt.db() as db, db.begin():
        passkey = (await db.execute(select(Passkey))).scalar_one()
    assert passkey.backup_eligible and passkey.backed_up and passkey.sign_count == 1


async def test_an_unknown_or_removed_credential_is_refused(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    stranger = SoftAuthenticator(origin=ORIGIN)
    await register(client, (await _other(client, user)).headers, stranger)
    stored = await register(client, user.headers, authenticator)
    assert (
        await client.delete(f"/passkeys/{stored['id']}", headers=user.headers)
    ).status_code == 200
    await json_error(await passkey_login(client, authenticator), 401)


async def _other(client: Client, user: PersonWithToken) -> PersonWithToken:
    rt: Runtime = client.app.extensions["runtime"]  # type: ignore[attr-defined]
    return await signed_in(rt, email="other@example.com")


async def test_a_signature_by_another_key_is_refused(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    impostor = SoftAuthenticator(origin=ORIGIN)
    await register(client, (await _other(client, user)).headers, impostor)
    # The victim's credential id, signed with the impostor's key.
    authenticator.credentials[0].key = impostor.credentials[0].key
    await json_error(await passkey_login(client, authenticator), 401)


async def test_a_user_handle_of_somebody_else_is_refused(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    authenticator.credentials[0].user_handle = bytes(16)
    await json_error(await passkey_login(client, authenticator), 401)


async def test_failures_are_rate_limited_per_account(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    for _ in range(5):  # LOGIN_LIMIT_PER_ACCOUNT: 5 per 15 minutes
        await json_error(await passkey_login(client, authenticator, rp_id="evil.example"), 401)
    await retry_after(await passkey_login(client, authenticator))


async def test_garbage_is_refused(client: Client) -> None:
    for credential in ({}, {"id": "x", "rawId": "x", "type": "public-key", "response": {}}):
        await json_error(await _answer(client, credential), 401)
    await json_error(await client.post("/passkeys/login", json={}), 400)
    both = {"email": "a@example.com", "mfa_token": "x"}
    await json_error(await client.post("/passkeys/login/options", json=both), 400)


async def test_options_requests_are_limited_per_client_ip(serve: Callable[..., Any]) -> None:
    client = await serve(passkey_options_limit_per_ip="2/15minutes")
    for _ in range(2):
        assert (await client.post("/passkeys/login/options", json={})).status_code == 200
    await retry_after(await client.post("/passkeys/login/options", json={}))


async def test_parallel_answers_with_one_challenge_sign_in_once(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    options = await login_options(client)
    credential = authenticator.get(options)
    answers = await asyncio.gather(*(_answer(client, credential) for _ in range(10)))
    assert sorted(a.status_code for a in answers) == [200] + [401] * 9  # type: ignore[attr-defined]


async def test_the_credential_may_be_the_body_itself(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    # `credential.toJSON()` sent as it is, to either route.
    options = await client.post("/passkeys/register/options", headers=user.headers)
    created = authenticator.create(await options.get_json())
    response = await client.post("/passkeys/register", json=created, headers=user.headers)
    assert response.status_code == 201
    assertion = authenticator.get(await login_options(client))
    assert (await client.post("/passkeys/login", json=assertion)).status_code == 200
    both = {**authenticator.get(await login_options(client)), "credential": assertion}
    await json_error(await client.post("/passkeys/login", json=both), 400)
