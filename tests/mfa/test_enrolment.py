"""Enrolment through HTTP: /qrcode, /verify_otp, /setup_mfa (enable), with a real pyotp app."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.accounts.models import Person
from quart_template.app import create_app
from quart_template.events.outbox import OutboxMessage
from quart_template.mfa.models import OtpMethod, RecoveryCode
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.factories import signed_in
from tests.support.http import json_error
from tests.support.mfa import Enrolled, FrozenClock, enrol


async def _qrcode(client: Client, headers: dict[str, str], **body: object) -> tuple[int, dict]:
    response = await client.post("/qrcode", json=body, headers=headers)
    return response.status_code, await response.get_json()


async def test_enrolment_end_to_end_with_the_real_clock(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    response = await client.post(
        "/qrcode", json={"password": user.password, "login_type": "signup"}, headers=user.headers
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert set(body) == {"success", "image", "uri", "secret"}
    assert body["success"] is True
    assert base64.b64decode(body["image"], validate=True).startswith(b"\x89PNG\r\n\x1a\n")
    uri = urlparse(body["uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["issuer"] == ["Quart Template"]
    assert parse_qs(uri.query)["secret"] == [body["secret"]]
    assert user.person.email in unquote(uri.path)
    app = pyotp.TOTP(body["secret"])

    response = await client.post("/verify_otp", json={"otp": app.now()}, headers=user.headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    verified = await response.get_json()
    assert set(verified) == {"message", "success", "data"}
    assert verified["message"] == "OTP verified successfully"
    assert verified["success"] is True
    assert verified["data"]["otp_verified"] is True
    codes = verified["data"]["codes"]
    assert len(codes) == 10 == len(set(codes))
    assert all(len(c) == 32 and c == c.upper() and int(c, 16) >= 0 for c in codes)

    # The next time step (within the one step of drift allowed): a code not used yet.
    response = await client.post(
        "/setup_mfa",
        json={"mfa_enabled": True, "otp": app.at(time.time() + 30)},
        headers=user.headers,
    )
    assert response.status_code == 200
    assert await response.get_json() == {"message": "MFA enabled successfully", "success": True}
    async with rt.db() as db:
        person = await db.get(Person, user.person.entity_id)
        assert person is not None and person.mfa_enabled is True


async def test_otp_may_be_a_number_zero_padded(
    client: Client, rt: Runtime, clock: FrozenClock, monkeypatch: object
) -> None:
    user = await signed_in(rt)
    _, body = await _qrcode(client, user.headers, password=user.password, login_type="signup")
    app = pyotp.TOTP(body["secret"])
    code = app.at(clock.now)
    response = await client.post("/verify_otp", json={"otp": int(code)}, headers=user.headers)
    assert response.status_code == 200
    clock.advance()
    response = await client.post(
        "/setup_mfa",
        json={"mfa_enabled": True, "otp": int(app.at(clock.now))},
        headers=user.headers,
    )
    assert response.status_code == 200
    assert await response.get_json() == {"message": "MFA enabled successfully", "success": True}


@pytest.mark.parametrize(
    "otp",
    [
        None,
        "",
        "12345",
        "1234567",
        "12a456",
        "abcdef",
        "12 34 56",
        1234567,
        -1,
        10**30,
        1.5,
        12.5,
        True,
        [1],
        {},
    ],
)
async def test_a_malformed_otp_is_a_bad_request(client: Client, rt: Runtime, otp: object) -> None:
    user = await signed_in(rt)
    await _qrcode(client, user.headers, password=user.password, login_type="signup")
    for path, body in (
        ("/verify_otp", {"otp": otp}),
        ("/setup_mfa", {"mfa_enabled": True, "otp": otp}),
        ("/login_mfa", {"email": user.person.email, "otp": otp}),
    ):
        await json_error(await client.post(path, json=body, headers=user.headers), 400)


async def test_the_issuer_is_a_setting(make_settings: Callable[..., Settings]) -> None:
    async with create_app(make_settings(mfa_issuer="Other Issuer")).test_app() as served:
        user = await signed_in(served.app.extensions["runtime"])
        response = await served.test_client().post(
            "/qrcode",
            json={"password": user.password, "login_type": "signup"},
            headers=user.headers,
        )
        uri = urlparse((await response.get_json())["uri"])
        assert parse_qs(uri.query)["issuer"] == ["Other Issuer"]


async def test_qrcode_needs_the_right_password(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    status, body = await _qrcode(
        client, user.headers, password="wrong password!", login_type="signup"
    )
    assert (status, body["success"]) == (403, False)
    status, _ = await _qrcode(client, user.headers, login_type="signup")
    assert status == 400
    # Sent but empty is a wrong password, not a missing one (the fuzzer found the 400 that
    # /openapi.json did not promise).
    status, _ = await _qrcode(client, user.headers, password="", login_type="signup")
    assert status == 403
    status, _ = await _qrcode(client, {}, password=user.password, login_type="signup")
    assert status == 401
    status, _ = await _qrcode(client, user.headers, password=user.password, login_type="email")
    assert status == 400


async def test_social_login_type_is_for_people_without_a_password(
    client: Client, rt: Runtime, clock: FrozenClock
) -> None:
    with_password = await signed_in(rt, email="pw@example.com")
    status, _ = await _qrcode(client, with_password.headers, login_type="social")
    assert status == 403

    social = await signed_in(rt, email="social@example.com", password=None)
    status, _ = await _qrcode(client, social.headers, password="", login_type="social")
    assert status == 200  # a front end may send an empty password along
    enrolled = await enrol(client, social, clock, login_type="social")
    assert len(enrolled.codes) == 10
    # Without a password, "signup" cannot be proven.
    other = await signed_in(rt, email="social2@example.com", password=None)
    status, _ = await _qrcode(
        client, other.headers, password="anything at all", login_type="signup"
    )
    assert status == 403


async def test_qrcode_reuses_the_pending_secret_and_hides_it_once_enabled(
    client: Client, rt: Runtime, clock: FrozenClock
) -> None:
    user = await signed_in(rt)
    _, first = await _qrcode(client, user.headers, password=user.password, login_type="signup")
    _, again = await _qrcode(client, user.headers, password=user.password, login_type="signup")
    assert again["secret"] == first["secret"]

    enrolled = await enrol(client, user, clock)
    assert enrolled.secret == first["secret"]
    status, body = await _qrcode(client, user.headers, password=user.password, login_type="signup")
    assert status == 409
    assert "secret" not in body and "image" not in body


async def test_a_confirmed_but_unused_method_is_replaced_by_a_new_secret(
    client: Client, rt: Runtime, clock: FrozenClock
) -> None:
    user = await signed_in(rt)
    _, first = await _qrcode(client, user.headers, password=user.password, login_type="signup")
    code = pyotp.TOTP(first["secret"]).at(clock.now)
    assert (
        await client.post("/verify_otp", json={"otp": code}, headers=user.headers)
    ).status_code == 200
    _, second = await _qrcode(client, user.headers, password=user.password, login_type="signup")
    assert second["secret"] != first["secret"]
    # The codes of the abandoned method died with it.
    response = await client.get("/recovery_codes", headers=user.headers)
    assert (await response.get_json())["data"] == []


async def test_verify_otp_failures(client: Client, rt: Runtime, clock: FrozenClock) -> None:
    user = await signed_in(rt)
    response = await client.post("/verify_otp", json={"otp": "123456"}, headers=user.headers)
    assert response.status_code == 400  # no QR code requested yet
    _, body = await _qrcode(client, user.headers, password=user.password, login_type="signup")
    app = pyotp.TOTP(body["secret"])
    wrong = f"{(int(app.at(clock.now)) + 1) % 1_000_000:06d}"
    response = await client.post("/verify_otp", json={"otp": wrong}, headers=user.headers)
    assert response.status_code == 403
    assert (await response.get_json())["success"] is False
    # Two steps old: outside the one step of drift.
    response = await client.post(
        "/verify_otp", json={"otp": app.at(clock.now - 60)}, headers=user.headers
    )
    assert response.status_code == 403
    response = await client.post(
        "/verify_otp", json={"otp": app.at(clock.now)}, headers=user.headers
    )
    assert response.status_code == 200
    clock.advance()
    response = await client.post(
        "/verify_otp", json={"otp": app.at(clock.now)}, headers=user.headers
    )
    assert response.status_code == 409


async def test_enabling_needs_a_confirmed_method_and_a_fresh_code(
    client: Client, rt: Runtime, clock: FrozenClock
) -> None:
    user = await signed_in(rt)
    response = await client.post("/setup_mfa", json={"mfa_enabled": True}, headers=user.headers)
    assert response.status_code == 400
    _, body = await _qrcode(client, user.headers, password=user.password, login_type="signup")
    app = pyotp.TOTP(body["secret"])
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": True, "otp": app.at(clock.now)}, headers=user.headers
    )
    assert response.status_code == 400  # not verified yet: MFA never on without a confirmed code
    used = app.at(clock.now)
    assert (
        await client.post("/verify_otp", json={"otp": used}, headers=user.headers)
    ).status_code == 200
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": True, "otp": "000000"}, headers=user.headers
    )
    assert response.status_code == 403 or used == "000000"
    # The one allowance to single use: the code that confirmed enrolment may also turn MFA on.
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": True, "otp": used}, headers=user.headers
    )
    assert response.status_code == 200
    clock.advance()
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": True, "otp": app.at(clock.now)}, headers=user.headers
    )
    assert response.status_code == 409


async def test_enabling_sends_a_notice_and_keeps_secrets_out_of_events(
    client: Client, enrolled: Enrolled, rt: Runtime
) -> None:
    async with rt.db() as db:
        emails = (
            await db.execute(select(OutboxMessage.action).where(OutboxMessage.kind == "email"))
        ).scalars()
        assert "MFA_ENABLED" in list(emails)
        stored = (await db.execute(select(OtpMethod.secret_encrypted))).scalar_one()
        assert enrolled.secret not in stored and stored.startswith("v2:")
        copies = (await db.execute(select(RecoveryCode.code_encrypted))).scalars().all()
        assert all(code not in (copy or "") for code in enrolled.codes for copy in copies)
        hashes = (await db.execute(select(RecoveryCode.code_hash))).scalars().all()
        assert not set(enrolled.codes) & set(hashes)
