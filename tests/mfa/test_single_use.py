"""A TOTP time step is accepted once, for every purpose: a code seen at sign-in cannot turn MFA
off, one spent at set-up cannot sign in. The one allowance: the code that confirmed set-up at
/verify_otp may turn MFA on once more, within 2 minutes."""

from __future__ import annotations

import pyotp
from quart.typing import TestClientProtocol as Client

from quart_template.accounts.models import Person
from quart_template.runtime import Runtime
from tests.support.factories import PersonWithToken, signed_in
from tests.support.http import auth, json_error
from tests.support.mfa import Enrolled, FrozenClock, password_step


async def _mfa_on(rt: Runtime, person_id: str) -> bool:
    async with rt.db() as db:
        person = await db.get(Person, person_id)
        assert person is not None
        return person.mfa_enabled


async def _confirmed(client: Client, user: PersonWithToken, clock: FrozenClock) -> tuple[str, str]:
    """/qrcode and /verify_otp: the secret and the code that confirmed it."""
    response = await client.post(
        "/qrcode", json={"password": user.password, "login_type": "signup"}, headers=user.headers
    )
    secret = (await response.get_json())["secret"]
    code = pyotp.TOTP(secret).at(clock.now)
    response = await client.post("/verify_otp", json={"otp": code}, headers=user.headers)
    assert response.status_code == 200
    return secret, code


async def _enable(client: Client, user: PersonWithToken, otp: str) -> int:
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": True, "otp": otp}, headers=user.headers
    )
    return response.status_code


async def test_a_login_code_cannot_turn_mfa_off(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    code = enrolled.code()
    mfa_token = await password_step(client, enrolled)
    response = await client.post("/login_mfa", json={"mfa_token": mfa_token, "otp": code})
    assert response.status_code == 200
    headers = auth((await response.get_json())["user"]["access_token"])
    # The same code replayed (seen over a shoulder, on a phishing page): refused.
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": False, "otp": code}, headers=headers
    )
    body = await json_error(response, 403)
    assert body["message"] == "Invalid OTP code."
    assert await _mfa_on(rt, enrolled.user.person.entity_id)


async def test_the_confirming_code_turns_mfa_on_once_within_two_minutes(
    client: Client, rt: Runtime, clock: FrozenClock
) -> None:
    user = await signed_in(rt)
    _, code = await _confirmed(client, user, clock)
    clock.advance(110)  # long past its time step, still within the allowance
    assert await _enable(client, user, code) == 200
    assert await _mfa_on(rt, user.person.entity_id)
    # Spent for every other purpose: it neither signs in nor turns MFA off.
    response = await client.post(
        "/login", json={"email": user.person.email, "password": user.password}
    )
    mfa_token = (await response.get_json())["mfa_token"]
    clock.now -= 110  # back inside its drift window, so only single use can refuse it
    response = await client.post("/login_mfa", json={"mfa_token": mfa_token, "otp": code})
    await json_error(response, 401)
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": False, "otp": code}, headers=user.headers
    )
    await json_error(response, 403)


async def test_the_confirming_code_is_refused_after_two_minutes(
    client: Client, rt: Runtime, clock: FrozenClock
) -> None:
    user = await signed_in(rt)
    secret, code = await _confirmed(client, user, clock)
    clock.advance(121)
    assert await _enable(client, user, code) == 403
    assert not await _mfa_on(rt, user.person.entity_id)
    assert await _enable(client, user, pyotp.TOTP(secret).at(clock.now)) == 200


async def test_the_confirming_code_is_no_allowance_anywhere_else(
    client: Client, rt: Runtime, clock: FrozenClock
) -> None:
    user = await signed_in(rt)
    secret, code = await _confirmed(client, user, clock)
    assert await _enable(client, user, pyotp.TOTP(secret).at(clock.now + 30)) == 200
    # MFA is on through a newer code: the allowance is over, the confirming step spent.
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": False, "otp": code}, headers=user.headers
    )
    await json_error(response, 403)
    response = await client.post("/reauthenticate", json={"otp": code}, headers=user.headers)
    await json_error(response, 403)


async def test_a_code_spent_turning_mfa_on_cannot_sign_in(
    client: Client, rt: Runtime, clock: FrozenClock
) -> None:
    user = await signed_in(rt)
    secret, _ = await _confirmed(client, user, clock)
    clock.advance()
    code = pyotp.TOTP(secret).at(clock.now)
    assert await _enable(client, user, code) == 200
    response = await client.post(
        "/login", json={"email": user.person.email, "password": user.password}
    )
    mfa_token = (await response.get_json())["mfa_token"]
    response = await client.post("/login_mfa", json={"mfa_token": mfa_token, "otp": code})
    await json_error(response, 401)
    clock.advance()
    response = await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "otp": pyotp.TOTP(secret).at(clock.now)}
    )
    assert response.status_code == 200
