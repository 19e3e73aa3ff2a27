"""A passkey as the second factor: after the password step of a person with passkeys,
`/login` says `"passkey": true` beside `mfa_token`, and `/login_mfa {mfa_token, passkey}`
finishes the login with an assertion answering that login's own options."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from tests.support.accounts import USER_FIELDS, log_in
from tests.support.factories import PersonWithToken, signed_in
from tests.support.http import json_error
from tests.support.mfa import enrol, freeze_totp_clock
from tests.support.passkeys import ORIGIN, login_options, register
from tests.support.webauthn import SoftAuthenticator


async def _password_step(client: Client, email: str = "ada@example.com") -> dict:
    response = await log_in(client, email)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert "access_token" not in body["user"]
    return dict(body)


async def _finish(client: Client, mfa_token: str, assertion: dict, **extra: object) -> object:
    return await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "passkey": assertion, **extra}
    )


async def test_a_person_with_a_passkey_finishes_a_password_login_with_it(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    step = await _password_step(client)
    assert step["passkey"] is True and step["mfa_token"]
    assert step["user"] == {"mfa_enabled": True, "email": user.person.email, "verified": True}
    options = await login_options(client, mfa_token=step["mfa_token"])
    assert [c["id"] for c in options["allowCredentials"]] == [authenticator.credentials[0].id]
    assert options["userVerification"] == "discouraged"
    response = await _finish(
        client, step["mfa_token"], authenticator.get(options, user_verified=False)
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert body["message"] == "The passkey is valid"
    assert set(body["user"]) == USER_FIELDS
    # The login is finished: its token and its options are spent.
    again = authenticator.get(await login_options(client), user_verified=False)
    await json_error(await _finish(client, step["mfa_token"], again), 401)


async def test_totp_and_recovery_codes_keep_working(
    client: Client,
    user: PersonWithToken,
    authenticator: SoftAuthenticator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enrolled = await enrol(client, user, freeze_totp_clock(monkeypatch))
    await register(client, user.headers, authenticator)
    step = await _password_step(client)
    assert step["passkey"] is True
    done = await client.post(
        "/login_mfa", json={"mfa_token": step["mfa_token"], "otp": enrolled.next_code()}
    )
    assert done.status_code == 200
    step = await _password_step(client)
    done = await client.post(
        "/verify_recovery_code",
        json={"mfa_token": step["mfa_token"], "recovery_code": enrolled.codes[0]},
    )
    assert done.status_code == 200
    step = await _password_step(client)
    options = await login_options(client, mfa_token=step["mfa_token"])
    assert (await _finish(client, step["mfa_token"], authenticator.get(options))).status_code == 200


async def test_people_without_passkeys_are_not_offered_one(
    client: Client, user: PersonWithToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = await log_in(client)
    assert "passkey" not in await response.get_json()  # no MFA at all: a token
    await enrol(client, user, freeze_totp_clock(monkeypatch))
    step = await _password_step(client)
    assert "passkey" not in step
    await json_error(
        await client.post("/passkeys/login/options", json={"mfa_token": step["mfa_token"]}), 400
    )


async def test_only_options_of_this_login_count(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    step = await _password_step(client)
    # Options of a passwordless sign-in are no second factor of this login...
    passwordless = authenticator.get(await login_options(client))
    await json_error(await _finish(client, step["mfa_token"], passwordless), 401)
    # ...nor are those of another login of the same person.
    other_step = await _password_step(client)
    other = authenticator.get(await login_options(client, mfa_token=other_step["mfa_token"]))
    await json_error(await _finish(client, step["mfa_token"], other), 401)
    # Its own login it still finishes.
    assert (await _finish(client, other_step["mfa_token"], other)).status_code == 200


async def test_another_persons_passkey_is_refused(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    eve = await signed_in(rt, email="eve@example.com")
    eves = SoftAuthenticator(origin=ORIGIN)
    await register(client, eve.headers, eves)
    step = await _password_step(client)
    options = await login_options(client, mfa_token=step["mfa_token"])
    eves_answer = eves.get(options, credential=eves.credentials[0])
    await json_error(await _finish(client, step["mfa_token"], eves_answer), 401)


async def test_a_bad_token_or_two_factors_at_once_are_refused(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    body = await json_error(
        await client.post("/passkeys/login/options", json={"mfa_token": "forged"}), 401
    )
    assert body["message"] == "Please log in with your password first."
    step = await _password_step(client)
    options = await login_options(client, mfa_token=step["mfa_token"])
    assertion = authenticator.get(options)
    await json_error(await _finish(client, step["mfa_token"], assertion, otp="123456"), 400)
    await json_error(await client.post("/login_mfa", json={"mfa_token": step["mfa_token"]}), 400)
    await json_error(await _finish(client, "forged", assertion), 401)
    assert (await _finish(client, step["mfa_token"], assertion)).status_code == 200
