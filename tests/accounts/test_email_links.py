"""The whole journey through real email: links read from messages an SMTP server received."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.smtp import SmtpSink
from tests.support.accounts import SIGNUP, link_path, log_in


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
    assert (await client.post("/signup", json=SIGNUP)).status_code == 201
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
