"""Email verification links: they confirm once, and only for the person they were made for."""

from __future__ import annotations

import itertools
import time

import pytest
from itsdangerous.timed import TimestampSigner
from quart.typing import TestClientProtocol as Client

from quart_template.accounts.tokens import encode_uid
from quart_template.runtime import Runtime
from tests.support.accounts import SIGNUP, USER_FIELDS, emails, last_link, link_path, signup_link
from tests.support.factories import create_person

CONFIRMED = "You have confirmed your account. Thanks!"
SENT = "A confirmation email has been sent via email."


async def test_verify_confirms_and_signs_in(client: Client, rt: Runtime) -> None:
    token, uidb64 = await signup_link(client, rt)
    response = await client.post(f"/verify/{token}/{uidb64}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["success"] is True and body["message"] == CONFIRMED
    user = body["user"]
    assert user["verified"] is True and isinstance(user["verified_on"], int)
    assert user["email"] == SIGNUP["email"] and user["latest"] is True
    assert set(user) == USER_FIELDS
    assert uidb64 == encode_uid(user["entity_id"])
    sessions = await client.get(
        "/sessions", headers={"Authorization": f"Basic {user['access_token']}"}
    )
    assert sessions.status_code == 200


async def test_a_verification_link_works_once(client: Client, rt: Runtime) -> None:
    token, uidb64 = await signup_link(client, rt)
    assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 200
    again = await client.post(f"/verify/{token}/{uidb64}")
    assert again.status_code == 400
    body = await again.get_json()
    assert body["success"] is False and "access_token" not in str(body)


async def test_tampered_verification_tokens_are_refused(client: Client, rt: Runtime) -> None:
    token, uidb64 = await signup_link(client, rt)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad_token, bad_uid in [
        (flipped, uidb64),
        (token + "x", uidb64),
        ("garbage", uidb64),
        (token, "not-base64!"),
        (token, encode_uid("0" * 32)),
    ]:
        response = await client.post(f"/verify/{bad_token}/{bad_uid}")
        assert response.status_code == 400, (bad_token, bad_uid)
        assert (await response.get_json())["success"] is False


async def test_a_token_for_one_person_with_the_uid_of_another_is_refused(
    client: Client, rt: Runtime
) -> None:
    token_a, _ = await signup_link(client, rt, "a@example.com")
    _, uid_b = await signup_link(client, rt, "b@example.com")
    response = await client.post(f"/verify/{token_a}/{uid_b}")
    assert response.status_code == 400


async def test_an_expired_verification_link_is_refused(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, uidb64 = await signup_link(client, rt)
    later = int(time.time()) + rt.settings.verify_token_expire + 5
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    response = await client.post(f"/verify/{token}/{uidb64}")
    assert response.status_code == 400


async def test_a_reset_token_is_no_verification_token(client: Client, rt: Runtime) -> None:
    await client.post("/signup", json=SIGNUP)
    await client.post("/forgot_password", json={"email": SIGNUP["email"]})
    token, uidb64 = link_path(
        await last_link(rt, event="RESET_PASSWORD", to=SIGNUP["email"]), "reset-password"
    )
    assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 400


async def test_resend_sends_a_new_link_to_an_unverified_person(client: Client, rt: Runtime) -> None:
    await client.post("/signup", json=SIGNUP)
    response = await client.post("/resend_confirmation", json={"email": SIGNUP["email"]})
    assert response.status_code == 200
    assert await response.get_json() == {"success": True, "message": SENT}
    link = await last_link(rt, event="RESEND_CONFIRMATION", to=SIGNUP["email"])
    token, uidb64 = link_path(link, "login")
    assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 200


async def test_resend_answers_the_same_for_unknown_and_verified_emails(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt, email="known@example.com", verified=True)
    for email in ("nobody@example.com", "known@example.com"):
        response = await client.post("/resend_confirmation", json={"email": email})
        assert response.status_code == 200
        assert await response.get_json() == {"success": True, "message": SENT}
    assert await emails(rt) == []


async def test_resend_is_rate_limited_per_address(client: Client, rt: Runtime) -> None:
    statuses = []
    for _ in itertools.repeat(None, 6):
        response = await client.post("/resend_confirmation", json={"email": "x@example.com"})
        statuses.append(response.status_code)
    assert statuses == [200] * 5 + [429]
    assert int(response.headers["Retry-After"]) > 0
