"""MFA next to the rest: a password reset keeps it on, a password change or reset ends pending
second-factor steps; its events carry no secrets."""

from __future__ import annotations

import json
from collections.abc import Callable

from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.app import create_app
from quart_template.events.outbox import OutboxMessage
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.accounts import reset_link
from tests.support.factories import signed_in
from tests.support.mfa import Enrolled, FrozenClock, enrol, password_step

NEW_PASSWORD = "a brand new passphrase"


async def test_a_password_reset_keeps_mfa_on(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    token, uidb64 = await reset_link(client, rt, enrolled.email)
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200, await response.get_json()

    enrolled.user.password = NEW_PASSWORD
    mfa_token = await password_step(client, enrolled)  # no access token: still two factors
    response = await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "otp": enrolled.code()}
    )
    assert response.status_code == 200


async def _second_steps_refused(client: Client, enrolled: Enrolled, mfa_token: str) -> None:
    """Neither the `mfa_token` nor the legacy `{email, otp}` form finishes that login now."""
    for body in (
        {"mfa_token": mfa_token, "otp": enrolled.code()},
        {"email": enrolled.email, "otp": enrolled.code()},
    ):
        response = await client.post("/login_mfa", json=body)
        assert response.status_code == 401, body
    response = await client.post(
        "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]}
    )
    assert response.status_code == 401


async def test_a_password_change_ends_pending_mfa_tokens(
    client: Client, enrolled: Enrolled
) -> None:
    mfa_token = await password_step(client, enrolled)
    response = await client.post(
        "/update_password",
        json={"existing_password": enrolled.user.password, "new_password": NEW_PASSWORD},
        headers=enrolled.headers,
    )
    assert response.status_code == 200, await response.get_json()
    await _second_steps_refused(client, enrolled, mfa_token)
    # A fresh password step works as always.
    enrolled.user.password = NEW_PASSWORD
    fresh = await password_step(client, enrolled)
    response = await client.post("/login_mfa", json={"mfa_token": fresh, "otp": enrolled.code()})
    assert response.status_code == 200


async def test_a_password_reset_ends_pending_mfa_tokens(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    mfa_token = await password_step(client, enrolled)
    token, uidb64 = await reset_link(client, rt, enrolled.email)
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200, await response.get_json()
    await _second_steps_refused(client, enrolled, mfa_token)


async def test_entity_events_carry_no_secrets(
    make_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    # A Pusher destination makes every entity change write an outbox row; the relay stays off
    # so the rows can be read as they would be sent.
    settings = make_settings(
        pusher_app_id="1",
        pusher_api_key="key",
        pusher_api_secret="secret",
        pusher_host="127.0.0.1",
        pusher_port=9,
        pusher_ssl=False,
        relay_in_app=False,
    )
    app = create_app(settings)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        rt: Runtime = app.extensions["runtime"]
        enrolled = await enrol(client, await signed_in(rt), clock)
        mfa_token = await password_step(client, enrolled)
        response = await client.post(
            "/verify_recovery_code",
            json={"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]},
        )
        assert response.status_code == 200
        async with rt.db() as db:
            rows = (
                await db.execute(select(OutboxMessage).where(OutboxMessage.kind == "entity"))
            ).scalars()
            payloads = {(row.entity, row.action): row.payload for row in rows}
    assert {("otp_method", "create"), ("otp_method", "update")} <= set(payloads)
    assert {("recovery_code", "create"), ("recovery_code", "update")} <= set(payloads)
    everything = json.dumps(list(payloads.values()))
    for secret in [enrolled.secret, *enrolled.codes]:
        assert secret not in everything
    assert "secret_encrypted" not in everything and "code_hash" not in everything
    assert "code_encrypted" not in everything and "last_step" not in everything


async def test_a_changed_encryption_key_refuses_codes_but_never_fails(
    make_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    first = create_app(make_settings(data_encryption_key="the first key"))
    async with first.test_app() as test_app:
        enrolled = await enrol(
            test_app.test_client(), await signed_in(first.extensions["runtime"]), clock
        )
    second = create_app(make_settings(data_encryption_key="another key"))
    async with second.test_app() as test_app:
        client = test_app.test_client()
        mfa_token = await password_step(client, enrolled)
        response = await client.post(
            "/login_mfa", json={"mfa_token": mfa_token, "otp": enrolled.code()}
        )
        assert response.status_code == 401
        response = await client.post(
            "/verify_recovery_code",
            json={"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]},
        )
        assert response.status_code == 200  # matched by hash: no key needed
        body = await (await client.get("/recovery_codes", headers=enrolled.headers)).get_json()
        assert body == {"data": [], "success": True}
