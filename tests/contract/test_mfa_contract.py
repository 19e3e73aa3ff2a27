"""API.md §4 and its §8 rows, with the seed README's JSON: MFA seen only through HTTP, with a
real authenticator (pyotp) computing codes from the secret /qrcode hands out."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from quart import Quart
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

HEX32 = re.compile(r"[0-9A-F]{32}")


@dataclass
class Enrolled:
    email: str
    token: str
    app: Authenticator
    codes: list[str]


async def enrol(client: Client, email: str = "mfa@example.com") -> Enrolled:
    """/qrcode, /verify_otp (step -1), /setup_mfa (step 0): step +1 is left for the test."""
    token = await sign_up_and_log_in(client, email)
    status, qr = await post(
        client, "/qrcode", {"password": PASSWORD, "login_type": "signup"}, token
    )
    assert status == 200, qr
    app = Authenticator(qr["secret"], await fresh_step())
    status, verified = await post(client, "/verify_otp", {"otp": app.code(-1)}, token)
    assert status == 200, verified
    status, enabled = await post(
        client, "/setup_mfa", {"mfa_enabled": True, "otp": app.code()}, token
    )
    assert status == 200, enabled
    return Enrolled(email=email, token=token, app=app, codes=verified["data"]["codes"])


async def password_step(client: Client, email: str) -> str:
    status, body = await post(client, "/login", {"email": email, "password": PASSWORD})
    assert status == 200, body
    mfa_token: str = body["mfa_token"]
    return mfa_token


providers = pytest.fixture(providers_fixture, name="providers")


@pytest.fixture
def settings(make_settings: Callable[..., Settings], providers: FakeProviders) -> Settings:
    return make_settings(
        provider_timeout=2.0, mfa_issuer="Contract Issuer", **providers.settings_overrides()
    )


# --- /qrcode ------------------------------------------------------------------------------


async def test_qrcode_shape(client: Client) -> None:
    token = await sign_up_and_log_in(client, "qr@example.com")
    response = await client.post(
        "/qrcode", json={"password": PASSWORD, "login_type": "signup"}, headers=auth(token)
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert set(body) == {"success", "image", "uri", "secret"}
    assert body["success"] is True
    assert base64.b64decode(body["image"], validate=True).startswith(b"\x89PNG\r\n\x1a\n")
    uri = urlparse(body["uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    query = parse_qs(uri.query)
    assert query["issuer"] == ["Contract Issuer"]
    assert query["secret"] == [body["secret"]]
    assert "qr@example.com" in unquote(uri.path)


async def test_qrcode_login_type_rules(client: Client, providers: FakeProviders) -> None:
    token = await sign_up_and_log_in(client, "rules@example.com")
    assert (await post(client, "/qrcode", {"login_type": "signup"}, token))[0] == 400
    wrong = {"password": "not the password", "login_type": "signup"}
    assert (await post(client, "/qrcode", wrong, token))[0] == 403
    assert (await post(client, "/qrcode", {"login_type": "social"}, token))[0] == 403
    assert (await post(client, "/qrcode", {"login_type": "nonsense"}, token))[0] == 400
    assert (await post(client, "/qrcode", {"password": PASSWORD, "login_type": "signup"}))[0] == 401
    # A person who signed up socially has no password: "social" needs none.
    code = providers.github_account(7, email="social@example.com")
    status, social = await post(client, "/social/github", {"code": code})
    assert status == 200, social
    status, qr = await post(
        client, "/qrcode", {"login_type": "social"}, social["user"]["access_token"]
    )
    assert status == 200, qr
    assert {"success", "image", "uri", "secret"} <= set(qr)


# --- /verify_otp and /setup_mfa -----------------------------------------------------------


async def test_verify_otp_seed_shape_and_codes(client: Client) -> None:
    token = await sign_up_and_log_in(client, "v@example.com")
    _, qr = await post(client, "/qrcode", {"password": PASSWORD, "login_type": "signup"}, token)
    app = Authenticator(qr["secret"], await fresh_step())
    wrong = f"{(int(app.code()) + 1) % 1_000_000:06d}"
    status, body = await post(client, "/verify_otp", {"otp": wrong}, token)
    assert status in (400, 403) and body["success"] is False
    response = await client.post("/verify_otp", json={"otp": app.code()}, headers=auth(token))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert set(body) == {"message", "success", "data"}
    assert body["message"] == "OTP verified successfully"
    assert body["success"] is True
    assert body["data"]["otp_verified"] is True
    codes = body["data"]["codes"]
    assert len(codes) == 10 == len(set(codes))
    assert all(HEX32.fullmatch(c) for c in codes)


async def test_otp_as_a_number_is_zero_padded(client: Client) -> None:
    token = await sign_up_and_log_in(client, "n@example.com")
    _, qr = await post(client, "/qrcode", {"password": PASSWORD, "login_type": "signup"}, token)
    app = Authenticator(qr["secret"], await fresh_step())
    status, body = await post(client, "/verify_otp", {"otp": int(app.code(-1))}, token)
    assert status == 200, body
    status, body = await post(
        client, "/setup_mfa", {"mfa_enabled": True, "otp": int(app.code())}, token
    )
    assert (status, body) == (200, {"message": "MFA enabled successfully", "success": True})


@pytest.mark.parametrize(
    "otp",
    [None, "", "12345", "1234567", 1234567, -1, 10**30, 1.5, True, "abcdef", "12 34 56", [1], {}],
)
async def test_malformed_otp_is_400_never_500(client: Client, otp: object) -> None:
    token = await sign_up_and_log_in(client, "bad@example.com")
    for path, body in (
        ("/verify_otp", {"otp": otp}),
        ("/setup_mfa", {"mfa_enabled": True, "otp": otp}),
        ("/login_mfa", {"email": "bad@example.com", "otp": otp}),
    ):
        status, answer = await post(client, path, body, token)
        assert status == 400, (path, otp, answer)
        assert answer["success"] is False


async def test_setup_mfa_disable_rules(client: Client) -> None:
    enrolled = await enrol(client)
    token = enrolled.token
    status, body = await post(client, "/setup_mfa", {"mfa_enabled": False}, token)
    assert status == 400 and body["success"] is False
    wrong_code = f"{(int(enrolled.app.code(1)) + 1) % 1_000_000:06d}"
    assert (await post(client, "/setup_mfa", {"mfa_enabled": False, "otp": wrong_code}, token))[
        0
    ] == 403
    assert (
        await post(client, "/setup_mfa", {"mfa_enabled": False, "password": "wrong pass"}, token)
    )[0] == 403
    assert (await post(client, "/setup_mfa", {"mfa_enabled": "maybe"}, token))[0] == 400
    assert (await post(client, "/setup_mfa", {"mfa_enabled": None}, token))[0] == 400
    status, body = await post(
        client, "/setup_mfa", {"mfa_enabled": False, "otp": enrolled.app.code(1)}, token
    )
    assert status == 200 and body["success"] is True
    status, body = await post(client, "/login", {"email": enrolled.email, "password": PASSWORD})
    assert status == 200 and body["user"]["mfa_enabled"] is False and body["user"]["access_token"]


async def test_disable_with_the_password(client: Client) -> None:
    enrolled = await enrol(client)
    status, body = await post(
        client, "/setup_mfa", {"mfa_enabled": False, "password": PASSWORD}, enrolled.token
    )
    assert status == 200 and body["success"] is True


# --- /login, /login_mfa -------------------------------------------------------------------


async def test_login_of_an_mfa_person_gives_no_access_token(client: Client) -> None:
    enrolled = await enrol(client)
    response = await client.post("/login", json={"email": enrolled.email, "password": PASSWORD})
    assert response.status_code == 200
    body = await response.get_json()
    assert set(body) == {"success", "user", "mfa_token"}
    assert body["success"] is True
    assert body["user"] == {"mfa_enabled": True, "email": enrolled.email, "verified": False}
    assert isinstance(body["mfa_token"], str) and body["mfa_token"]
    assert not contains_key(body, "access_token")
    # The mfa_token is no access token.
    assert (await client.get("/social", headers=auth(body["mfa_token"]))).status_code == 401


async def test_login_mfa_with_the_token_and_a_code_once_only(client: Client) -> None:
    enrolled = await enrol(client)
    mfa_token = await password_step(client, enrolled.email)
    response = await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "otp": enrolled.app.code(1)}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["message"] == "The TOTP MFA token is valid"
    assert body["success"] is True
    assert set(body["user"]) == USER_KEYS
    assert body["user"]["mfa_enabled"] is True and body["user"]["email"] == enrolled.email
    access = body["user"]["access_token"]
    assert (await client.get("/social", headers=auth(access))).status_code == 200
    # The same code (time step) a second time, with a fresh password step: refused.
    again = await password_step(client, enrolled.email)
    status, body = await post(
        client, "/login_mfa", {"mfa_token": again, "otp": enrolled.app.code(1)}
    )
    assert status == 401 and body["success"] is False
    # The token was single use too.
    status, _ = await post(
        client, "/login_mfa", {"mfa_token": mfa_token, "otp": enrolled.app.code(1)}
    )
    assert status == 401


async def test_drift_of_two_steps_is_refused(client: Client) -> None:
    enrolled = await enrol(client)
    mfa_token = await password_step(client, enrolled.email)
    for offset in (2, -2):  # more than one step away
        status, _ = await post(
            client, "/login_mfa", {"mfa_token": mfa_token, "otp": enrolled.app.code(offset)}
        )
        assert status == 401, offset
    status, _ = await post(
        client, "/login_mfa", {"mfa_token": mfa_token, "otp": int(enrolled.app.code(0))}
    )
    assert status == 200
    # The step that signed in is spent: the same code cannot finish another login.
    mfa_token = await password_step(client, enrolled.email)
    status, _ = await post(
        client, "/login_mfa", {"mfa_token": mfa_token, "otp": enrolled.app.code(0)}
    )
    assert status == 401


async def test_email_is_optional_with_the_token_but_must_match(client: Client) -> None:
    enrolled = await enrol(client)
    await sign_up_and_log_in(client, "other@example.com")
    mfa_token = await password_step(client, enrolled.email)
    body = {"mfa_token": mfa_token, "email": "other@example.com", "otp": enrolled.app.code(1)}
    assert (await post(client, "/login_mfa", body))[0] == 401
    body["email"] = enrolled.email.upper()
    status, answer = await post(client, "/login_mfa", body)
    assert status == 200, answer


async def test_legacy_email_and_otp_needs_a_password_step(client: Client) -> None:
    enrolled = await enrol(client)
    # No password step yet: a right code alone signs nobody in.
    body = {"email": enrolled.email, "otp": enrolled.app.code(1)}
    assert (await post(client, "/login_mfa", body))[0] == 401
    assert (await post(client, "/login_mfa", {"otp": enrolled.app.code(1)}))[0] in (400, 401)
    await password_step(client, enrolled.email)
    status, answer = await post(client, "/login_mfa", body)
    assert status == 200, answer
    assert answer["message"] == "The TOTP MFA token is valid"
    assert answer["user"]["access_token"]


@pytest.mark.parametrize("mfa_token", ["garbage", "a" * 5000, "", 12345, None, ["x"], {"a": 1}])
async def test_odd_mfa_tokens_never_500(client: Client, mfa_token: object) -> None:
    status, body = await post(client, "/login_mfa", {"mfa_token": mfa_token, "otp": "123456"})
    assert status in (400, 401), body
    status, body = await post(
        client, "/verify_recovery_code", {"mfa_token": mfa_token, "recovery_code": "A" * 32}
    )
    assert status in (400, 401), body


# --- recovery codes ------------------------------------------------------------------------


async def test_recovery_code_signs_in_once_case_insensitively(client: Client) -> None:
    enrolled = await enrol(client)
    await sign_up_and_log_in(client, "other@example.com")
    mfa_token = await password_step(client, enrolled.email)
    code = enrolled.codes[0]
    mismatch = {"mfa_token": mfa_token, "email": "other@example.com", "recovery_code": code}
    assert (await post(client, "/verify_recovery_code", mismatch))[0] == 401
    response = await client.post(
        "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": code.lower()}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["message"] == "The MFA recovery code is valid"
    assert body["success"] is True
    assert set(body["user"]) == USER_KEYS and body["user"]["mfa_enabled"] is True
    again = await password_step(client, enrolled.email)
    status, body = await post(
        client, "/verify_recovery_code", {"mfa_token": again, "recovery_code": code}
    )
    assert status == 401 and body["success"] is False
    # Legacy form: {email, recovery_code} right after the password step.
    status, body = await post(
        client,
        "/verify_recovery_code",
        {"email": enrolled.email, "recovery_code": enrolled.codes[1]},
    )
    assert status == 200, body
    # With no password step left, a right code alone signs nobody in.
    status, _ = await post(
        client,
        "/verify_recovery_code",
        {"email": enrolled.email, "recovery_code": enrolled.codes[2]},
    )
    assert status == 401


@pytest.mark.parametrize("code", ["", "Z" * 32, "A" * 33, "A" * 1000, None, 12, ["A"]])
async def test_odd_recovery_codes_never_500(client: Client, code: object) -> None:
    enrolled = await enrol(client)
    mfa_token = await password_step(client, enrolled.email)
    status, body = await post(
        client, "/verify_recovery_code", {"mfa_token": mfa_token, "recovery_code": code}
    )
    assert status in (400, 401), body


async def test_twenty_parallel_uses_of_one_code_exactly_one_wins(client: Client) -> None:
    enrolled = await enrol(client)
    tokens = [await password_step(client, enrolled.email) for _ in range(20)]
    results = await asyncio.gather(
        *(
            post(
                client,
                "/verify_recovery_code",
                {"mfa_token": t, "recovery_code": enrolled.codes[0]},
            )
            for t in tokens
        )
    )
    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) == 1, statuses
    assert all(status in (401, 409, 429) for status in statuses if status != 200), statuses


async def test_get_recovery_codes_shows_unused_only_and_post_regenerates(client: Client) -> None:
    enrolled = await enrol(client)
    response = await client.get("/recovery_codes", headers=auth(enrolled.token))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["success"] is True and sorted(body["data"]) == sorted(enrolled.codes)
    mfa_token = await password_step(client, enrolled.email)
    status, _ = await post(
        client,
        "/verify_recovery_code",
        {"mfa_token": mfa_token, "recovery_code": enrolled.codes[3]},
    )
    assert status == 200
    body = await (await client.get("/recovery_codes", headers=auth(enrolled.token))).get_json()
    assert sorted(body["data"]) == sorted(c for c in enrolled.codes if c != enrolled.codes[3])
    response = await client.post("/recovery_codes", headers=auth(enrolled.token))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    fresh = await response.get_json()
    assert set(fresh) == {"data", "success"} and fresh["success"] is True
    assert len(fresh["data"]) == 10 and all(HEX32.fullmatch(c) for c in fresh["data"])
    assert not set(fresh["data"]) & set(enrolled.codes)
    mfa_token = await password_step(client, enrolled.email)
    status, _ = await post(
        client,
        "/verify_recovery_code",
        {"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]},
    )
    assert status == 401  # the old set died
    assert (await client.get("/recovery_codes")).status_code == 401


async def test_recovery_codes_not_viewable(
    make_settings: Callable[..., Settings],
) -> None:
    from quart_template.app import create_app

    app: Quart = create_app(make_settings(recovery_codes_viewable=False))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        enrolled = await enrol(client)
        assert len(enrolled.codes) == 10  # shown once, at /verify_otp
        body = await (await client.get("/recovery_codes", headers=auth(enrolled.token))).get_json()
        assert body["success"] is True
        assert not any(code in str(body) for code in enrolled.codes)
        assert body.get("count") == 10
        mfa_token = await password_step(client, enrolled.email)
        status, _ = await post(
            client,
            "/verify_recovery_code",
            {"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]},
        )
        assert status == 200


async def test_mfa_endpoints_need_a_valid_token(client: Client) -> None:
    for path, body in (
        ("/qrcode", {"password": PASSWORD, "login_type": "signup"}),
        ("/verify_otp", {"otp": "123456"}),
        ("/setup_mfa", {"mfa_enabled": False, "password": PASSWORD}),
        ("/recovery_codes", None),
    ):
        for header in ({}, {"Authorization": "Basic nonsense"}, {"Authorization": "Bearer"}):
            if body is None:  # no body at all ("null" would be a non-object body: 400)
                response = await client.post(path, headers=header)
            else:
                response = await client.post(path, json=body, headers=header)
            assert response.status_code == 401, (path, header)
            assert "WWW-Authenticate" not in response.headers
    for header in ({}, {"Authorization": "Basic nonsense"}):
        assert (await client.get("/recovery_codes", headers=header)).status_code == 401
