"""/login_mfa: a TOTP code finishes a login only together with a live password (or social) step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import update

from quart_template.accounts.models import Person
from quart_template.app import create_app
from quart_template.db import utcnow
from quart_template.mfa.models import MfaChallenge
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from quart_template.signin import challenge
from quart_template.signin.challenge import begin_second_factor
from tests.support.accounts import USER_FIELDS
from tests.support.factories import signed_in
from tests.support.mfa import Enrolled, FrozenClock, enrol, password_step
from tests.support.signed import NOT_AN_ID, bad_tokens


async def _login_mfa(client: Client, **body: object) -> tuple[int, dict]:
    response = await client.post("/login_mfa", json=body)
    return response.status_code, await response.get_json()


async def test_mfa_token_and_code_sign_in(client: Client, enrolled: Enrolled) -> None:
    mfa_token = await password_step(client, enrolled)
    response = await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "otp": enrolled.code()}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["message"] == "The TOTP MFA token is valid"
    assert body["success"] is True
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["mfa_enabled"] is True
    assert body["user"]["email"] == enrolled.email
    headers = {"Authorization": f"Basic {body['user']['access_token']}"}
    assert (await client.get("/recovery_codes", headers=headers)).status_code == 200


async def test_email_must_match_the_token(client: Client, enrolled: Enrolled) -> None:
    mfa_token = await password_step(client, enrolled)
    status, _ = await _login_mfa(
        client, mfa_token=mfa_token, email="someone@example.com", otp=enrolled.code()
    )
    assert status == 401
    status, _ = await _login_mfa(
        client, mfa_token=mfa_token, email=enrolled.email.upper(), otp=enrolled.code()
    )
    assert status == 200


async def test_a_code_is_accepted_once(client: Client, enrolled: Enrolled) -> None:
    code = enrolled.code()
    status, _ = await _login_mfa(client, mfa_token=await password_step(client, enrolled), otp=code)
    assert status == 200
    status, body = await _login_mfa(
        client, mfa_token=await password_step(client, enrolled), otp=code
    )
    assert (status, body["success"]) == (401, False)
    # A step older than the last accepted one is refused too, though within the drift window.
    status, _ = await _login_mfa(
        client, mfa_token=await password_step(client, enrolled), otp=enrolled.code(-1)
    )
    assert status == 401


async def test_one_step_of_drift_but_not_two(client: Client, enrolled: Enrolled) -> None:
    enrolled.clock.advance(90)  # the enrolment's steps are well behind
    mfa_token = await password_step(client, enrolled)
    for offset in (-2, +2):
        status, _ = await _login_mfa(client, mfa_token=mfa_token, otp=enrolled.code(offset))
        assert status == 401, offset
    # A refused code does not spend the token.
    status, _ = await _login_mfa(client, mfa_token=mfa_token, otp=enrolled.code(-1))
    assert status == 200
    status, _ = await _login_mfa(
        client, mfa_token=await password_step(client, enrolled), otp=enrolled.code(+1)
    )
    assert status == 200


async def test_a_code_may_be_a_number(client: Client, enrolled: Enrolled) -> None:
    mfa_token = await password_step(client, enrolled)
    status, _ = await _login_mfa(client, mfa_token=mfa_token, otp=int(enrolled.code()))
    assert status == 200


@pytest.mark.parametrize("mfa_token", ["garbage", "a" * 5000, "", 12345, None, ["x"], {"a": 1}])
async def test_an_odd_mfa_token_is_a_400_or_401(client: Client, mfa_token: object) -> None:
    status, body = await _login_mfa(client, mfa_token=mfa_token, otp="123456")
    assert status in (400, 401) and body["success"] is False
    response = await client.post(
        "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": "A" * 32}
    )
    assert response.status_code in (400, 401)
    assert (await response.get_json())["success"] is False


async def test_a_genuinely_signed_mfa_token_with_a_bad_payload_is_401(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    await password_step(client, enrolled)  # a live challenge the bad tokens must not reach
    for name, token in bad_tokens(challenge._serializer(rt.settings), NOT_AN_ID).items():
        status, body = await _login_mfa(client, mfa_token=token, otp=enrolled.code())
        assert status == 401 and body["success"] is False, name
        response = await client.post(
            "/verify_recovery_code", json={"mfa_token": token, "recovery_code": enrolled.codes[0]}
        )
        assert response.status_code == 401, name


async def test_an_mfa_token_is_single_use(client: Client, enrolled: Enrolled) -> None:
    mfa_token = await password_step(client, enrolled)
    status, _ = await _login_mfa(client, mfa_token=mfa_token, otp=enrolled.code())
    assert status == 200
    status, _ = await _login_mfa(client, mfa_token=mfa_token, otp=enrolled.next_code())
    assert status == 401


async def test_no_password_step_no_login(client: Client, enrolled: Enrolled) -> None:
    status, _ = await _login_mfa(client, email=enrolled.email, otp=enrolled.code())
    assert status == 401
    status, _ = await _login_mfa(client, otp=enrolled.code())
    assert status == 401
    status, _ = await _login_mfa(client, email="nobody@example.com", otp=enrolled.code())
    assert status == 401
    status, _ = await _login_mfa(client, mfa_token="forged.token.value", otp=enrolled.code())
    assert status == 401


async def test_legacy_email_and_code_right_after_the_password(
    client: Client, enrolled: Enrolled
) -> None:
    await password_step(client, enrolled)
    status, body = await _login_mfa(client, email=enrolled.email, otp=enrolled.code())
    assert status == 200
    assert body["message"] == "The TOTP MFA token is valid"
    assert body["user"]["access_token"]
    # The password step was spent by that login.
    status, _ = await _login_mfa(client, email=enrolled.email, otp=enrolled.next_code())
    assert status == 401


async def test_expired_challenge(client: Client, rt: Runtime, enrolled: Enrolled) -> None:
    mfa_token = await password_step(client, enrolled)
    async with rt.db() as db, db.begin():
        await db.execute(update(MfaChallenge).values(expires_at=utcnow() - timedelta(seconds=1)))
    status, _ = await _login_mfa(client, mfa_token=mfa_token, otp=enrolled.code())
    assert status == 401
    status, _ = await _login_mfa(client, email=enrolled.email, otp=enrolled.code())
    assert status == 401


async def test_foreign_mfa_token(client: Client, rt: Runtime, enrolled: Enrolled) -> None:
    other = await enrol(client, await signed_in(rt, email="other@example.com"), enrolled.clock)
    other_token = await password_step(client, other)
    # Someone else's password step does not carry my code, nor my email.
    status, _ = await _login_mfa(client, mfa_token=other_token, otp=enrolled.code())
    assert status == 401
    status, _ = await _login_mfa(
        client, mfa_token=other_token, email=enrolled.email, otp=enrolled.code()
    )
    assert status == 401


async def test_wrong_codes_until_429(client: Client, enrolled: Enrolled) -> None:
    mfa_token = await password_step(client, enrolled)
    right = enrolled.code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    statuses = [(await _login_mfa(client, mfa_token=mfa_token, otp=wrong))[0] for _ in range(5)]
    assert statuses == [401] * 5
    response = await client.post("/login_mfa", json={"mfa_token": mfa_token, "otp": right})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert (await response.get_json())["success"] is False


async def test_parallel_logins_with_one_code_exactly_one_wins(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    tokens = []
    async with rt.db() as db, db.begin():
        person = await db.get(Person, enrolled.user.person.entity_id)
        assert person is not None
        for _ in range(10):
            token = await begin_second_factor(
                db, settings=rt.settings, person=person, method="password"
            )
            tokens.append(token)
    code = enrolled.code()
    results = await asyncio.gather(
        *(_login_mfa(client, mfa_token=token, otp=code) for token in tokens)
    )
    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 401, 429}


async def test_social_step_then_code(client: Client, rt: Runtime, enrolled: Enrolled) -> None:
    social = await enrol(
        client, await signed_in(rt, email="gh@example.com", password=None), enrolled.clock,
        login_type="social",
    )  # fmt: skip
    async with rt.db() as db, db.begin():
        person = await db.get(Person, social.user.person.entity_id)
        assert person is not None
        await begin_second_factor(db, settings=rt.settings, person=person, method="github")
    status, _ = await _login_mfa(client, email=social.email, otp=social.code())
    assert status == 200


async def test_legacy_form_counts_a_password_step_of_five_minutes_only(
    make_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    app = create_app(make_settings(mfa_token_expire=900))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        rt: Runtime = app.extensions["runtime"]
        enrolled = await enrol(client, await signed_in(rt), clock)
        mfa_token = await password_step(client, enrolled)
        async with rt.db() as db, db.begin():
            await db.execute(
                update(MfaChallenge).values(created_at=utcnow() - timedelta(minutes=6))
            )
        status, _ = await _login_mfa(client, email=enrolled.email, otp=enrolled.code())
        assert status == 401
        # The token names its challenge, which lives for MFA_TOKEN_EXPIRE.
        status, _ = await _login_mfa(client, mfa_token=mfa_token, otp=enrolled.code())
        assert status == 200
