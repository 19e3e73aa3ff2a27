"""Forgot and reset password: one link, one use, every session ends, nobody is signed in."""

from __future__ import annotations

import time

import pytest
from itsdangerous.timed import TimestampSigner
from quart.typing import TestClientProtocol as Client
from sqlalchemy import update

from quart_template.accounts.models import Person
from quart_template.accounts.tokens import encode_uid
from quart_template.runtime import Runtime
from tests.support.accounts import emails, last_link, link_path, log_in, reset_link
from tests.support.factories import DEFAULT_PASSWORD, create_person, signed_in

SENT = "Password reset email sent to the user"
DONE = "Your password has been updated! You are now able to log in."
NEW_PASSWORD = "a brand new passphrase"


async def test_forgot_answers_the_same_for_known_and_unknown_emails(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt)
    for email in ("ada@example.com", "nobody@example.com"):
        response = await client.post("/forgot_password", json={"email": email})
        assert response.status_code == 200
        assert await response.get_json() == {"success": True, "message": SENT}
    [email] = await emails(rt, event="RESET_PASSWORD")
    assert email["to_emails"] == ["ada@example.com"]
    assert email["data"]["link"].startswith("http://frontend.test/session/reset-password/")


async def test_forgot_is_rate_limited_per_address(client: Client, rt: Runtime) -> None:
    statuses = [
        (await client.post("/forgot_password", json={"email": "x@example.com"})).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]


async def test_reset_sets_the_password_revokes_sessions_and_does_not_sign_in(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    token, uidb64 = await reset_link(client, rt)
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert body == {"success": True, "message": DONE}
    assert (await client.get("/sessions", headers=user.headers)).status_code == 401
    assert (await log_in(client)).status_code == 401
    assert (await log_in(client, password=NEW_PASSWORD)).status_code == 200
    [notice] = await emails(rt, event="PASSWORD_CHANGED")
    assert notice["to_emails"] == ["ada@example.com"] and "link" not in notice["data"]


async def test_a_reset_link_works_once(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    token, uidb64 = await reset_link(client, rt)
    url = f"/reset_password/{token}/{uidb64}"
    assert (await client.post(url, json={"password": NEW_PASSWORD})).status_code == 200
    again = await client.post(url, json={"password": "yet another passphrase"})
    assert again.status_code == 400
    assert (await again.get_json())["success"] is False
    assert (await log_in(client, password=NEW_PASSWORD)).status_code == 200


async def test_a_reset_link_dies_when_the_password_changes_otherwise(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    token, uidb64 = await reset_link(client, rt)
    changed = await client.post(
        "/update_password",
        json={"existing_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert changed.status_code == 200
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": "attacker passphrase"}
    )
    assert response.status_code == 400


async def test_tampered_swapped_and_foreign_purpose_tokens_are_refused(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt)
    bob = await create_person(rt, email="bob@example.com")
    token, uidb64 = await reset_link(client, rt)
    await client.post("/signup", json={
        "email": "new@example.com", "password": "a long enough passphrase",
    })  # fmt: skip
    verify_token, verify_uid = link_path(
        await last_link(rt, event="USER_CREATED", to="new@example.com"), "login"
    )
    for bad_token, bad_uid in [
        (token[:-3] + "abc", uidb64),
        ("garbage", uidb64),
        (token, encode_uid(bob.entity_id)),
        (token, "%%%"),
        (verify_token, verify_uid),
    ]:
        response = await client.post(
            f"/reset_password/{bad_token}/{bad_uid}", json={"password": NEW_PASSWORD}
        )
        assert response.status_code == 400, (bad_token, bad_uid)
    assert (await log_in(client)).status_code == 200


async def test_an_expired_reset_link_is_refused(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_person(rt)
    token, uidb64 = await reset_link(client, rt)
    later = int(time.time()) + rt.settings.reset_token_expire + 5
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 400


async def test_reset_applies_the_password_policy(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    token, uidb64 = await reset_link(client, rt)
    for password in ("short", "password", "x" * 129, "ada@example.com"):
        response = await client.post(
            f"/reset_password/{token}/{uidb64}", json={"password": password}
        )
        assert response.status_code == 400, password
    # The link is still good after refused attempts.
    ok = await client.post(f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD})
    assert ok.status_code == 200
    bad_body = await client.post(f"/reset_password/{token}/{uidb64}", json={"pass": "x"})
    assert bad_body.status_code == 400


async def test_mfa_stays_on_after_a_reset(client: Client, rt: Runtime) -> None:
    person = await create_person(rt)
    async with rt.db() as db, db.begin():
        await db.execute(
            update(Person).where(Person.entity_id == person.entity_id).values(mfa_enabled=True)
        )
    token, uidb64 = await reset_link(client, rt)
    await client.post(f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD})
    body = await (await log_in(client, password=NEW_PASSWORD)).get_json()
    assert body["user"]["mfa_enabled"] is True and "mfa_token" in body
    assert "access_token" not in body["user"]
