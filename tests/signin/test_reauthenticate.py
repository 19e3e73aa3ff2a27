"""POST /reauthenticate: exactly one credential (password, TOTP code, recovery code) refreshes the
session's proof; a wrong one is a counted 403; a code is spent for every purpose."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.factories import PersonWithToken, signed_in
from tests.support.http import json_error
from tests.support.mfa import Enrolled, enrol, freeze_totp_clock, password_step
from tests.support.reauth import age_proofs, fresh, proved_at, reauth_required

DONE = {"success": True, "message": "Re-authenticated: you may change your sign-in settings now."}


async def _reauthenticate(
    client: Client, headers: dict[str, str], **body: object
) -> tuple[int, dict]:
    response = await client.post("/reauthenticate", json=body, headers=headers)
    return response.status_code, await response.get_json()


async def _stale(rt: Runtime, user: PersonWithToken) -> None:
    await age_proofs(rt, user.person.entity_id)
    assert not any(fresh(when) for when in await proved_at(rt, user.person.entity_id))


async def _enrolled(client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Enrolled:
    user = await signed_in(rt, email="mfa@example.com")
    return await enrol(client, user, freeze_totp_clock(monkeypatch))


async def test_the_password_refreshes_the_proof(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    await _stale(rt, user)
    await reauth_required(await client.get("/recovery_codes", headers=user.headers))
    assert await _reauthenticate(client, user.headers, password=user.password) == (200, DONE)
    (when,) = await proved_at(rt, user.person.entity_id)
    assert fresh(when)
    response = await client.get("/recovery_codes", headers=user.headers)
    assert response.status_code == 200


async def test_wrong_passwords_are_403_and_counted_until_429(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    await _stale(rt, user)
    for _ in range(5):
        status, body = await _reauthenticate(client, user.headers, password="not the password")
        assert (status, body["message"]) == (403, "Incorrect password.")
        assert "reauth_required" not in body
    # Over the per-account limit: even the right password waits.
    status, _ = await _reauthenticate(client, user.headers, password=user.password)
    assert status == 429
    assert not any(fresh(when) for when in await proved_at(rt, user.person.entity_id))


async def test_exactly_one_credential(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    for body in ({}, {"password": user.password, "otp": "123456"}, {"otp": None}):
        await json_error(await client.post("/reauthenticate", json=body, headers=user.headers), 400)
    await json_error(await client.post("/reauthenticate", json={"password": "x"}), 401)


async def test_a_person_without_a_password_or_mfa_cannot_use_a_code(
    client: Client, rt: Runtime
) -> None:
    social = await signed_in(rt, email="social@example.com", password=None)
    for body in ({"password": "anything at all"}, {"otp": "123456"}, {"recovery_code": "A" * 32}):
        status, _ = await _reauthenticate(client, social.headers, **body)
        assert status == 403, body


async def test_an_otp_is_spent_for_every_purpose(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolled = await _enrolled(client, rt, monkeypatch)
    await _stale(rt, enrolled.user)
    code = enrolled.code()
    assert await _reauthenticate(client, enrolled.headers, otp=code) == (200, DONE)
    status, body = await _reauthenticate(client, enrolled.headers, otp=code)
    assert (status, body["message"]) == (403, "Invalid OTP code.")
    # The same step cannot finish a login either, nor turn MFA off.
    mfa_token = await password_step(client, enrolled)
    response = await client.post("/login_mfa", json={"mfa_token": mfa_token, "otp": code})
    await json_error(response, 401)
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": False, "otp": code}, headers=enrolled.headers
    )
    await json_error(response, 403)
    # The next step works.
    status, _ = await _reauthenticate(client, enrolled.headers, otp=enrolled.next_code())
    assert status == 200


async def test_a_recovery_code_is_spent(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolled = await _enrolled(client, rt, monkeypatch)
    await _stale(rt, enrolled.user)
    code = enrolled.codes[0].lower()  # matched case-insensitively
    assert await _reauthenticate(client, enrolled.headers, recovery_code=code) == (200, DONE)
    status, body = await _reauthenticate(client, enrolled.headers, recovery_code=code)
    assert (status, body["message"]) == (403, "Invalid recovery code.")
    response = await client.get("/recovery_codes", headers=enrolled.headers)
    assert (await response.get_json())["data"] == enrolled.codes[1:]
    mfa_token = await password_step(client, enrolled)
    response = await client.post(
        "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": code}
    )
    await json_error(response, 401)


async def test_wrong_codes_count_with_the_second_factor(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolled = await _enrolled(client, rt, monkeypatch)
    live = {enrolled.code(offset) for offset in (-1, 0, 1)}
    wrong = next(c for c in ("123456", "654321", "111111", "222222") if c not in live)
    for _ in range(5):
        status, _ = await _reauthenticate(client, enrolled.headers, otp=wrong)
        assert status == 403
    # The OTP budget of this account is used up, here and at the login's second step.
    mfa_token = await password_step(client, enrolled)
    response = await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "otp": enrolled.code()}
    )
    assert response.status_code == 429


async def test_a_fresh_sign_in_needs_no_reauthentication(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolled = await _enrolled(client, rt, monkeypatch)
    await _stale(rt, enrolled.user)
    await reauth_required(await client.get("/recovery_codes", headers=enrolled.headers))
    mfa_token = await password_step(client, enrolled)
    response = await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "otp": enrolled.next_code()}
    )
    token = (await response.get_json())["user"]["access_token"]
    response = await client.get("/recovery_codes", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_asking_for_a_reauthentication_is_no_counted_failure(
    make_settings: Callable[..., Settings],
) -> None:
    async with create_app(make_settings(login_limit_per_ip="2/15minutes")).test_app() as served:
        rt: Runtime = served.app.extensions["runtime"]
        client = served.test_client()
        user = await signed_in(rt)
        await age_proofs(rt, user.person.entity_id)
        for _ in range(3):
            response = await client.post("/recovery_codes", headers=user.headers)
            await reauth_required(response)
        status, _ = await _reauthenticate(client, user.headers, password=user.password)
        assert status == 200
        # Not 429: the three refusals were no failed credential checks of this client.
        response = await client.post("/recovery_codes", headers=user.headers)
        body = await json_error(response, 400)
        assert body["message"] == "MFA is not set up: verify an OTP code first."
