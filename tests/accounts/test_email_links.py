"""The whole journey through real email: links read from messages an SMTP server received;
no password, token or link reaches the logs."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.smtp import SmtpSink
from tests.support.accounts import SIGNUP, access_token, link_path, log_in
from tests.support.http import auth


@pytest.fixture
def settings(smtp_settings: Settings) -> Settings:
    return smtp_settings


async def _deliver(rt: Runtime) -> None:
    assert rt.relay is not None
    await rt.relay.drain()


async def test_signup_verify_forgot_reset_through_real_email(
    client: Client, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    email = SIGNUP["email"]
    signup = await client.post("/signup", json=SIGNUP, headers={"Host": "evil.example"})
    assert signup.status_code == 201
    await _deliver(rt)
    verification = smtp_sink.last(to=email)
    link = smtp_sink.link(to=email)
    assert link.startswith("http://frontend.test/session/login/")
    assert link in verification.html
    token, uidb64 = link_path(link, "login")
    verified = await client.post(f"/verify/{token}/{uidb64}")
    assert verified.status_code == 200
    old_headers = {"Authorization": f"Basic {(await verified.get_json())['user']['access_token']}"}

    assert (await client.post("/forgot_password", json={"email": email})).status_code == 200
    await _deliver(rt)
    reset = smtp_sink.link(to=email)
    assert reset.startswith("http://frontend.test/session/reset-password/")
    token, uidb64 = link_path(reset, "reset-password")
    new_password = "another long passphrase"
    done = await client.post(f"/reset_password/{token}/{uidb64}", json={"password": new_password})
    assert done.status_code == 200
    await _deliver(rt)
    notice = smtp_sink.last(to=email)
    assert notice.links() == [] or all("reset-password" not in x for x in notice.links())
    assert (await client.get("/sessions", headers=old_headers)).status_code == 401
    assert (await log_in(client, email, new_password)).status_code == 200
    for message in smtp_sink.to(email):
        assert SIGNUP["password"] not in message.text and new_password not in message.text
        assert "evil.example" not in message.text + message.html


async def test_a_known_email_signing_up_gets_a_notice_not_a_link(
    client: Client, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    await client.post("/signup", json=SIGNUP)
    await _deliver(rt)
    smtp_sink.clear()
    await client.post("/signup", json={**SIGNUP, "password": "some other passphrase"})
    await _deliver(rt)
    [notice] = smtp_sink.to(SIGNUP["email"])
    assert "/session/login/" not in notice.text


async def test_a_password_update_sends_one_notice_without_the_passwords(
    client: Client, rt: Runtime, smtp_sink: SmtpSink
) -> None:
    await client.post("/signup", json=SIGNUP)
    token = await access_token(await log_in(client, SIGNUP["email"], SIGNUP["password"]))
    await _deliver(rt)
    before = len(smtp_sink.to(SIGNUP["email"]))
    await client.post(
        "/update_password",
        json={"existing_password": SIGNUP["password"], "new_password": "another passphrase"},
        headers=auth(token),
    )
    await _deliver(rt)
    [notice] = smtp_sink.to(SIGNUP["email"])[before:]
    assert SIGNUP["password"] not in notice.text and "another passphrase" not in notice.text


async def test_no_password_token_or_link_reaches_the_logs(
    client: Client, rt: Runtime, smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    email = SIGNUP["email"]
    await client.post("/signup", json=SIGNUP)
    token = await access_token(await log_in(client, email, SIGNUP["password"]))
    await log_in(client, email, "a wrong passphrase")
    await _deliver(rt)
    verify = link_path(smtp_sink.link(to=email), "login")
    await client.post(f"/verify/{verify[0]}/{verify[1]}")
    await client.post("/forgot_password", json={"email": email})
    await _deliver(rt)
    reset = link_path(smtp_sink.link(to=email), "reset-password")
    await client.post(f"/reset_password/{reset[0]}/{reset[1]}", json={"password": "new phrase one"})
    secrets = [SIGNUP["password"], "a wrong passphrase", "new phrase one", token]
    secrets += [verify[0], reset[0], "/session/login/", "/session/reset-password/"]
    lines = [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    assert any("login" in line for line in lines)
    for secret in secrets:
        assert not [line for line in lines if secret in line], secret
