"""Black-box contract of API.md §1, §2 (accounts and sessions), §3 and §8: HTTP and email only."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.smtp import SmtpSink

PASSWORD = "a long enough passphrase"
EMAIL = "grace@example.com"
SIGNUP = {
    "login_method": "signup",
    "first_name": "Grace",
    "last_name": "Hopper",
    "email": EMAIL,
    "password": PASSWORD,
}
USER_FIELDS = {
    "access_token",
    "active",
    "email",
    "entity_id",
    "first_name",
    "last_name",
    "latest",
    "login_method",
    "verified",
    "verified_on",
    "mfa_enabled",
    "expires_in",
}
SIGNED_UP = "User successfully created and a confirmation email has been sent via email."
RESENT = "A confirmation email has been sent via email."
FORGOT = "Password reset email sent to the user"
RESET = "Your password has been updated! You are now able to log in."
UPDATED = "Password has been updated!!"
LOGGED_OUT = "User successfully logged out."
VERIFIED = "You have confirmed your account. Thanks!"


@pytest.fixture
def settings(smtp_settings: Settings) -> Settings:
    return smtp_settings


async def _json_error(response: Any, status: int) -> dict[str, Any]:
    """The response is the contract's JSON error shape with this status."""
    assert response.status_code == status, await response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = await response.get_json()
    assert body["success"] is False
    assert isinstance(body["message"], str) and body["message"]
    assert "WWW-Authenticate" not in response.headers
    return dict(body)


def _uidb64(entity_id: str) -> str:
    return base64.urlsafe_b64encode(entity_id.encode()).decode().rstrip("=")


def _split(link: str, route: str) -> tuple[str, str]:
    prefix = f"http://frontend.test/session/{route}/"
    assert link.startswith(prefix), link
    token, uidb64 = link[len(prefix) :].split("/")
    return token, uidb64


async def _mail_link(rt: Runtime, sink: SmtpSink, to: str, route: str) -> tuple[str, str]:
    assert rt.relay is not None
    await rt.relay.drain()
    links = [x for x in sink.last(to=to).links() if f"/session/{route}/" in x]
    assert links, sink.last(to=to).text
    return _split(links[0], route)


async def _login(client: Client, email: str = EMAIL, password: str = PASSWORD, **kw: Any) -> Any:
    return await client.post("/login", json={"email": email, "password": password}, **kw)


async def _signed_up(client: Client) -> dict[str, Any]:
    assert (await client.post("/signup", json=SIGNUP)).status_code in (200, 201)
    response = await _login(client)
    assert response.status_code == 200
    user: dict[str, Any] = (await response.get_json())["user"]
    return user


def _auth(token: str, scheme: str = "Basic") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


# --- §1 conventions -------------------------------------------------------------------


async def test_other_bodies_reject_unknown_fields(client: Client) -> None:
    await _json_error(
        await client.post("/login", json={"email": EMAIL, "password": "x" * 9, "a": 1}), 400
    )
    await _json_error(await client.post("/forgot_password", json={"email": EMAIL, "x": 1}), 400)


async def test_both_authorization_schemes_work(client: Client) -> None:
    token = (await _signed_up(client))["access_token"]
    for scheme in ("Basic", "Bearer"):
        response = await client.get("/sessions", headers=_auth(token, scheme))
        assert response.status_code == 200
        assert (await response.get_json())["success"] is True


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Bearer",
        "Basic ",
        "Token abc",
        "abc",
        "Basic not-a-token",
        "Bearer a.b.c",
        "Basic " + base64.b64encode(b"grace@example.com:a long enough passphrase").decode(),
        "Basic " + "x" * 5000,
        "Basic \u00e9\u00e9\u00e9",
        "Basic a b c",
    ],
)
async def test_a_malformed_authorization_header_is_401_without_a_browser_prompt(
    client: Client, header: str
) -> None:
    for method, path in (("GET", "/sessions"), ("POST", "/logout")):
        response = await client.open(path, method=method, headers={"Authorization": header})
        await _json_error(response, 401)
    response = await client.post(
        "/update_password",
        json={"existing_password": PASSWORD, "new_password": "another passphrase"},
        headers={"Authorization": header},
    )
    await _json_error(response, 401)


async def test_missing_authorization_is_401_and_query_token_is_ignored(client: Client) -> None:
    token = (await _signed_up(client))["access_token"]
    await _json_error(await client.get("/sessions"), 401)
    await _json_error(await client.get(f"/sessions?access_token={token}"), 401)
    await _json_error(await client.get(f"/sessions?token={token}"), 401)
    await _json_error(await client.post(f"/logout?access_token={token}"), 401)


# --- §2 accounts and sessions ----------------------------------------------------------


async def test_signup_verify_journey_with_seed_messages(
    client: Client, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    response = await client.post("/signup", json=SIGNUP, headers={"Host": "evil.example"})
    assert response.status_code in (200, 201)
    assert await response.get_json() == {"success": True, "message": SIGNED_UP}
    token, uidb64 = await _mail_link(rt, smtp_sink, EMAIL, "login")
    assert "=" not in uidb64
    entity_id = base64.urlsafe_b64decode(uidb64 + "=" * (-len(uidb64) % 4)).decode()
    assert len(entity_id) == 32 and int(entity_id, 16) >= 0
    for message in smtp_sink.to(EMAIL):
        assert "evil.example" not in message.text + message.html

    verified = await client.post(f"/verify/{token}/{uidb64}")
    assert verified.status_code == 200
    assert "no-store" in verified.headers.get("Cache-Control", "")
    body = await verified.get_json()
    assert body["success"] is True and body["message"] == VERIFIED
    user = body["user"]
    assert set(user) == USER_FIELDS
    assert user["entity_id"] == entity_id and user["verified"] == 1
    assert type(user["verified_on"]) is int and abs(user["verified_on"] - time.time()) < 60
    assert type(user["expires_in"]) is int
    sessions = await client.get("/sessions", headers=_auth(user["access_token"]))
    assert sessions.status_code == 200

    login = await _login(client)
    logged = (await login.get_json())["user"]
    assert logged["verified"] == 1 and logged["verified_on"] == user["verified_on"]
    assert logged["access_token"] != user["access_token"]


async def test_verify_with_bad_links_is_a_clean_4xx(
    client: Client, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    await client.post("/signup", json=SIGNUP)
    token, uidb64 = await _mail_link(rt, smtp_sink, EMAIL, "login")
    other = _uidb64("0" * 32)
    for path in (
        f"/verify/{token}/{other}",
        f"/verify/{token}/!!!",
        f"/verify/{token}/{_uidb64('not hex at all')}",
        f"/verify/{token}/{'A' * 5000}",
        f"/verify/{'x' * 5000}/{uidb64}",
        f"/verify/{token[:-2]}/{uidb64}",
        f"/verify/%C3%A9/{uidb64}",
        f"/verify/{token}/%FF%FE",
    ):
        response = await client.post(path)
        assert 400 <= response.status_code < 500, path
        await _json_error(response, response.status_code)
    await _json_error(await client.get(f"/verify/{token}/{uidb64}"), 405)


async def test_verification_token_is_not_a_reset_token(
    client: Client, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    await client.post("/signup", json=SIGNUP)
    token, uidb64 = await _mail_link(rt, smtp_sink, EMAIL, "login")
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": "x" * 12 + "yz"}
    )
    await _json_error(response, 400)
    assert (await _login(client)).status_code == 200
    await client.post("/forgot_password", json={"email": EMAIL})
    reset, reset_uid = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
    await _json_error(await client.post(f"/verify/{reset}/{reset_uid}"), 400)


async def test_resend_confirmation(client: Client, rt: Runtime, smtp_sink: SmtpSink) -> None:
    await client.post("/signup", json=SIGNUP)
    for email in (EMAIL, "nobody@example.com"):
        response = await client.post("/resend_confirmation", json={"email": email})
        assert response.status_code == 200
        assert await response.get_json() == {"success": True, "message": RESENT}
    token, uidb64 = await _mail_link(rt, smtp_sink, EMAIL, "login")
    assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 200
    assert smtp_sink.to("nobody@example.com") == []


async def test_forgot_and_reset_password(client: Client, rt: Runtime, smtp_sink: SmtpSink) -> None:
    user = await _signed_up(client)
    for email in (EMAIL, "nobody@example.com", "GRACE@example.com"):
        response = await client.post("/forgot_password", json={"email": email})
        assert response.status_code == 200
        assert await response.get_json() == {"success": True, "message": FORGOT}
    token, uidb64 = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
    assert base64.urlsafe_b64decode(uidb64 + "=" * (-len(uidb64) % 4)).decode() == user["entity_id"]
    new = "a brand new passphrase"
    done = await client.post(f"/reset_password/{token}/{uidb64}", json={"password": new})
    assert done.status_code == 200
    body = await done.get_json()
    assert body == {"success": True, "message": RESET}
    # Every session revoked; the reset did not sign anyone in; single use.
    await _json_error(await client.get("/sessions", headers=_auth(user["access_token"])), 401)
    again = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": "yet another phrase"}
    )
    await _json_error(again, 400)
    await _json_error(await _login(client), 401)
    assert (await _login(client, password=new)).status_code == 200


async def test_reset_password_refuses_bad_passwords_and_links(
    client: Client, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    await _signed_up(client)
    await client.post("/forgot_password", json={"email": EMAIL})
    token, uidb64 = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
    for bad in ("short", "password", "12345678", EMAIL, "x" * 129):
        await _json_error(
            await client.post(f"/reset_password/{token}/{uidb64}", json={"password": bad}), 400
        )
    for body in ({}, {"password": None}, {"password": 12345678}, {"password": ["a"]}, {"pw": "x"}):
        await _json_error(await client.post(f"/reset_password/{token}/{uidb64}", json=body), 400)
    for path in (
        f"/reset_password/{token}/!!",
        f"/reset_password/junk/{uidb64}",
        f"/reset_password/{token}/{_uidb64('f' * 32)}",
        f"/reset_password/{'y' * 6000}/{uidb64}",
    ):
        response = await client.post(path, json={"password": "a fine new passphrase"})
        await _json_error(response, 400)
    assert (await _login(client)).status_code == 200


async def test_update_password(client: Client) -> None:
    user = await _signed_up(client)
    other = (await (await _login(client)).get_json())["user"]["access_token"]
    headers = _auth(user["access_token"])
    wrong = await client.post(
        "/update_password",
        json={"existing_password": "not my passphrase", "new_password": "another passphrase"},
        headers=headers,
    )
    await _json_error(wrong, 403)
    # The old password is checked first: a wrong one is a 403 whatever the new one is.
    wrong_and_weak = await client.post(
        "/update_password",
        json={"existing_password": "not my passphrase", "new_password": "password"},
        headers=headers,
    )
    await _json_error(wrong_and_weak, 403)
    weak = await client.post(
        "/update_password",
        json={"existing_password": PASSWORD, "new_password": "password"},
        headers=headers,
    )
    await _json_error(weak, 400)
    await _json_error(
        await client.post(
            "/update_password", json={"existing_password": PASSWORD}, headers=headers
        ),
        400,
    )
    done = await client.post(
        "/update_password",
        json={"existing_password": PASSWORD, "new_password": "another passphrase"},
        headers=headers,
    )
    assert done.status_code == 200
    assert await done.get_json() == {"success": True, "message": UPDATED}
    assert (await client.get("/sessions", headers=headers)).status_code == 200
    await _json_error(await client.get("/sessions", headers=_auth(other)), 401)
    assert (await _login(client, password="another passphrase")).status_code == 200
    await _json_error(await _login(client), 401)


async def test_logout_revokes_the_token(client: Client) -> None:
    token = (await _signed_up(client))["access_token"]
    response = await client.post("/logout", headers=_auth(token))
    assert response.status_code == 200
    assert await response.get_json() == {"success": True, "message": LOGGED_OUT}
    await _json_error(await client.post("/logout", headers=_auth(token)), 401)
    await _json_error(await client.get("/sessions", headers=_auth(token, "Bearer")), 401)


async def test_every_login_issues_a_fresh_token(client: Client) -> None:
    first = await _signed_up(client)
    second = (await (await _login(client)).get_json())["user"]
    assert first["access_token"] != second["access_token"]
    listed = await (await client.get("/sessions", headers=_auth(first["access_token"]))).get_json()
    assert len(listed["sessions"]) == 2
    assert "no-store" in (
        await client.get("/sessions", headers=_auth(first["access_token"]))
    ).headers.get("Cache-Control", "")


# --- §3 policy and enumeration ----------------------------------------------------------


# --- §8 rate limits and proxies ---------------------------------------------------------


async def _limited_app(make_settings: Callable[..., Settings], **overrides: Any) -> Any:
    return create_app(make_settings(**overrides)).test_app()


async def _retry_after(response: Any) -> int:
    await _json_error(response, 429)
    value = int(response.headers["Retry-After"])
    assert 0 < value <= 3600
    return value


async def test_forgot_and_resend_are_limited_per_email(client: Client) -> None:
    for path in ("/forgot_password", "/resend_confirmation"):
        email = f"limit-{path[1:]}@example.com"
        for _ in range(5):
            assert (await client.post(path, json={"email": email})).status_code == 200
        await _retry_after(await client.post(path, json={"email": email}))


async def test_forgot_and_resend_have_a_budget_each(client: Client) -> None:
    email = "both-budgets@example.com"
    for _ in range(5):
        assert (await client.post("/forgot_password", json={"email": email})).status_code == 200
    await _retry_after(await client.post("/forgot_password", json={"email": email}))
    for _ in range(5):
        sent = await client.post("/resend_confirmation", json={"email": email})
        assert sent.status_code == 200
    await _retry_after(await client.post("/resend_confirmation", json={"email": email}))


async def test_odd_paths_never_make_a_500(client: Client) -> None:
    token = (await _signed_up(client))["access_token"]
    odd = ["x" * 8000, "%00", "..", "%2F", "%E2%82%AC", "=", "-_", "A" * 43, "_" * 64]
    for first in odd:
        for second in odd:
            for path in (f"/verify/{first}/{second}", f"/reset_password/{first}/{second}"):
                response = await client.post(path, json={"password": "a fine passphrase"})
                assert response.status_code < 500, path
                await _json_error(response, response.status_code)
    for session_id in ("x" * 8000, "%00", "1", "-1", "0" * 32):
        response = await client.delete(f"/sessions/{session_id}", headers=_auth(token))
        assert 400 <= response.status_code < 500
        await _json_error(response, response.status_code)


async def test_a_reset_link_dies_when_the_password_changes(
    client: Client, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    token = (await _signed_up(client))["access_token"]
    await client.post("/forgot_password", json={"email": EMAIL})
    first = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
    await client.post("/forgot_password", json={"email": EMAIL})
    second = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
    done = await client.post(
        f"/reset_password/{second[0]}/{second[1]}", json={"password": "new phrase one"}
    )
    assert done.status_code == 200
    stale = await client.post(
        f"/reset_password/{first[0]}/{first[1]}", json={"password": "new phrase two"}
    )
    await _json_error(stale, 400)

    login = await (await _login(client, password="new phrase one")).get_json()
    token = login["user"]["access_token"]
    await client.post("/forgot_password", json={"email": EMAIL})
    third = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
    changed = await client.post(
        "/update_password",
        json={"existing_password": "new phrase one", "new_password": "new phrase three"},
        headers=_auth(token),
    )
    assert changed.status_code == 200
    late = await client.post(
        f"/reset_password/{third[0]}/{third[1]}", json={"password": "new phrase four"}
    )
    await _json_error(late, 400)
    assert (await _login(client, password="new phrase three")).status_code == 200


async def test_security_notices_by_email(client: Client, rt: Runtime, smtp_sink: SmtpSink) -> None:
    token = (await _signed_up(client))["access_token"]
    assert rt.relay is not None
    await rt.relay.drain()
    before = len(smtp_sink.to(EMAIL))
    await client.post(
        "/update_password",
        json={"existing_password": PASSWORD, "new_password": "another passphrase"},
        headers=_auth(token),
    )
    await rt.relay.drain()
    notices = smtp_sink.to(EMAIL)[before:]
    assert len(notices) == 1
    assert PASSWORD not in notices[0].text and "another passphrase" not in notices[0].text


def _clock_ahead(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """Signed links are judged as if `seconds` had passed (only itsdangerous's clock moves)."""
    import types

    import itsdangerous.timed

    real = time.time
    monkeypatch.setattr(
        itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: real() + seconds)
    )


async def test_links_expire_after_an_hour(
    client: Client, rt: Runtime, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.post("/signup", json=SIGNUP)
    verify = await _mail_link(rt, smtp_sink, EMAIL, "login")
    await client.post("/forgot_password", json={"email": EMAIL})
    reset = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
    _clock_ahead(monkeypatch, 3600 + 5)
    await _json_error(await client.post(f"/verify/{verify[0]}/{verify[1]}"), 400)
    late = await client.post(
        f"/reset_password/{reset[0]}/{reset[1]}", json={"password": "new phrase one"}
    )
    await _json_error(late, 400)
    monkeypatch.undo()
    assert (await client.post(f"/verify/{verify[0]}/{verify[1]}")).status_code == 200


async def test_link_lifetimes_are_settings(
    make_settings: Callable[..., Settings], smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = {
        **smtp_sink.settings_overrides(),
        "verify_token_expire": 7200,
        "reset_token_expire": 7200,
    }
    async with await _limited_app(make_settings, **overrides) as served:
        client: Client = served.app.test_client()
        rt: Runtime = served.app.extensions["runtime"]
        await client.post("/signup", json=SIGNUP)
        verify = await _mail_link(rt, smtp_sink, EMAIL, "login")
        await client.post("/forgot_password", json={"email": EMAIL})
        reset = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
        _clock_ahead(monkeypatch, 3600 + 5)
        assert (await client.post(f"/verify/{verify[0]}/{verify[1]}")).status_code == 200
        done = await client.post(
            f"/reset_password/{reset[0]}/{reset[1]}", json={"password": "new phrase one"}
        )
        assert done.status_code == 200


async def test_access_tokens_expire(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    token = (await _signed_up(client))["access_token"]
    _clock_ahead(monkeypatch, 3600 + 5)
    await _json_error(await client.get("/sessions", headers=_auth(token)), 401)


async def test_no_password_token_or_link_reaches_the_logs(
    client: Client, rt: Runtime, smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    user = await _signed_up(client)
    await _login(client, password="a wrong passphrase")
    verify = await _mail_link(rt, smtp_sink, EMAIL, "login")
    await client.post(f"/verify/{verify[0]}/{verify[1]}")
    await client.post("/forgot_password", json={"email": EMAIL})
    reset = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
    await client.post(f"/reset_password/{reset[0]}/{reset[1]}", json={"password": "new phrase one"})
    secrets = [PASSWORD, "a wrong passphrase", "new phrase one", user["access_token"]]
    secrets += [verify[0], reset[0], "/session/login/", "/session/reset-password/"]
    lines = [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    assert any("login" in line for line in lines)
    for secret in secrets:
        assert not [line for line in lines if secret in line], secret


async def test_parallel_uses_of_one_link_or_token_never_500(
    client: Client, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    import asyncio

    user = await _signed_up(client)
    verify = await _mail_link(rt, smtp_sink, EMAIL, "login")
    verified = await asyncio.gather(
        *(client.post(f"/verify/{verify[0]}/{verify[1]}") for _ in range(8))
    )
    codes = sorted(r.status_code for r in verified)
    assert codes[0] == 200 and all(c in (200, 400, 409) for c in codes), codes

    await client.post("/forgot_password", json={"email": EMAIL})
    reset = await _mail_link(rt, smtp_sink, EMAIL, "reset-password")
    resets = await asyncio.gather(
        *(
            client.post(
                f"/reset_password/{reset[0]}/{reset[1]}", json={"password": f"new phrase {i}"}
            )
            for i in range(8)
        )
    )
    codes = sorted(r.status_code for r in resets)
    assert codes.count(200) == 1 and all(c in (200, 400, 409) for c in codes), codes
    winner = next(i for i, r in enumerate(resets) if r.status_code == 200)
    assert (await _login(client, password=f"new phrase {winner}")).status_code == 200

    token = (await (await _login(client, password=f"new phrase {winner}")).get_json())["user"][
        "access_token"
    ]
    outs = await asyncio.gather(*(client.post("/logout", headers=_auth(token)) for _ in range(8)))
    codes = sorted(r.status_code for r in outs)
    assert codes[0] == 200 and all(c in (200, 401) for c in codes), codes
    assert user["access_token"] != token

    token = (await (await _login(client, password=f"new phrase {winner}")).get_json())["user"][
        "access_token"
    ]
    changes = await asyncio.gather(
        *(
            client.post(
                "/update_password",
                json={
                    "existing_password": f"new phrase {winner}",
                    "new_password": f"changed phrase {i}",
                },
                headers=_auth(token),
            )
            for i in range(6)
        )
    )
    codes = sorted(r.status_code for r in changes)
    assert 200 in codes and all(c in (200, 403, 409, 429) for c in codes), codes


async def test_parallel_requests_of_one_person_never_500(client: Client) -> None:
    import asyncio

    token = (await _signed_up(client))["access_token"]
    logins = await asyncio.gather(*(_login(client) for _ in range(10)))
    assert [r.status_code for r in logins] == [200] * 10
    tokens = [(await r.get_json())["user"]["access_token"] for r in logins]
    reads = await asyncio.gather(
        *(client.get("/sessions", headers=_auth(t)) for t in [token, *tokens] * 2)
    )
    assert {r.status_code for r in reads} == {200}
    ids = [s["id"] for s in (await reads[0].get_json())["sessions"]]
    mixed = await asyncio.gather(
        *(client.delete(f"/sessions/{i}", headers=_auth(token)) for i in ids[:5]),
        *(client.post("/logout", headers=_auth(t)) for t in tokens[5:]),
        client.post("/forgot_password", json={"email": EMAIL}),
        client.post("/resend_confirmation", json={"email": EMAIL}),
        _login(client),
    )
    assert all(r.status_code < 500 for r in mixed), [r.status_code for r in mixed]


async def test_sessions_record_the_believable_client_ip(
    make_settings: Callable[..., Settings],
) -> None:
    async with await _limited_app(make_settings, trusted_proxies="10.0.0.0/8") as served:
        client: Client = served.app.test_client()
        await client.post("/signup", json=SIGNUP)
        spoofed = {"X-Forwarded-For": "192.0.2.1"}
        direct = await _login(client, headers=spoofed, scope_base={"client": ("203.0.113.5", 1)})
        proxied = await _login(client, headers=spoofed, scope_base={"client": ("10.0.0.9", 1)})
        token = (await direct.get_json())["user"]["access_token"]
        assert (await proxied.get_json())["user"]["access_token"]
        listed = await (await client.get("/sessions", headers=_auth(token))).get_json()
        assert sorted(s["ip"] for s in listed["sessions"]) == ["192.0.2.1", "203.0.113.5"]
