"""Email verification links: they confirm once, and only for the person they were made for."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest
from itsdangerous.timed import TimestampSigner
from quart.typing import TestClientProtocol as Client

from quart_template.accounts import tokens
from quart_template.accounts.tokens import encode_uid
from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.accounts import (
    SIGNUP,
    USER_FIELDS,
    emails,
    last_link,
    link_path,
    log_in,
    signup_link,
)
from tests.support.factories import create_person
from tests.support.http import auth, json_error
from tests.support.signed import bad_link_payloads, bad_tokens

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
    assert user["verified"] is True and type(user["verified_on"]) is int
    assert abs(user["verified_on"] - time.time()) < 60
    assert type(user["expires_in"]) is int
    assert user["email"] == SIGNUP["email"] and user["latest"] is True
    assert set(user) == USER_FIELDS
    assert uidb64 == encode_uid(user["entity_id"])
    sessions = await client.get("/sessions", headers=auth(user["access_token"]))
    assert sessions.status_code == 200
    # A later login shows the same verification, with a token of its own.
    logged = (await (await log_in(client, SIGNUP["email"], SIGNUP["password"])).get_json())["user"]
    assert logged["verified"] is True and logged["verified_on"] == user["verified_on"]
    assert logged["access_token"] != user["access_token"]


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
        (token[:-2], uidb64),
        ("x" * 5000, uidb64),
        ("%C3%A9", uidb64),
        (token, "not-base64!"),
        (token, "!!!"),
        (token, encode_uid("0" * 32)),
        (token, encode_uid("not hex at all")),
        (token, "A" * 5000),
        (token, "%FF%FE"),
    ]:
        response = await client.post(f"/verify/{bad_token}/{bad_uid}")
        await json_error(response, 400)
    await json_error(await client.get(f"/verify/{token}/{uidb64}"), 405)


async def test_a_token_for_one_person_with_the_uid_of_another_is_refused(
    client: Client, rt: Runtime
) -> None:
    token_a, _ = await signup_link(client, rt, "a@example.com")
    _, uid_b = await signup_link(client, rt, "b@example.com")
    response = await client.post(f"/verify/{token_a}/{uid_b}")
    assert response.status_code == 400


async def test_a_genuinely_signed_verification_link_with_a_bad_payload_is_400(
    client: Client, rt: Runtime
) -> None:
    person = await create_person(rt, verified=False)
    uidb64 = encode_uid(person.entity_id)
    good = {"p": person.entity_id, "e": person.email_key}
    serializer = tokens._serializer(rt.settings, tokens.VERIFY)
    payloads = bad_link_payloads(person.entity_id)
    for name, token in bad_tokens(serializer, payloads, good=good).items():
        response = await client.post(f"/verify/{token}/{uidb64}")
        assert response.status_code == 400, name
        await json_error(response, 400)
    # Still unverified: none of them confirmed the address.
    token, _ = link_path(tokens.verification_link(person, rt.settings), "login")
    assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 200


async def test_an_expired_verification_link_is_refused(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, uidb64 = await signup_link(client, rt)
    later = int(time.time()) + 3600 + 5  # a link works for an hour
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    await json_error(await client.post(f"/verify/{token}/{uidb64}"), 400)
    monkeypatch.undo()  # only the time refused it: the link still works
    assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 200


async def test_the_verification_link_lifetime_is_a_setting(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with create_app(make_settings(verify_token_expire=7200)).test_app() as served:
        client = served.test_client()
        token, uidb64 = await signup_link(client, served.app.extensions["runtime"])
        later = int(time.time()) + 3600 + 5
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
        assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 200


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
    # Sent as USER_CREATED, as Flask Template did: the email-transmitter knows no other name.
    sign_up, resend = await emails(rt, to=SIGNUP["email"])
    assert sign_up["event"] == resend["event"] == "USER_CREATED"
    assert set(resend["data"]) == {"recipient_name", "confirmation_link"}
    link = await last_link(rt, event="USER_CREATED", to=SIGNUP["email"])
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


async def test_odd_link_paths_are_a_json_4xx(client: Client) -> None:
    odd = ["x" * 8000, "%00", "..", "%2F", "%E2%82%AC", "=", "-_", "A" * 43, "_" * 64]
    for first in odd:
        for second in odd:
            response = await client.post(f"/verify/{first}/{second}")
            assert 400 <= response.status_code < 500, (first, second)
            await json_error(response, response.status_code)


async def test_parallel_uses_of_one_link_confirm_once_and_never_fail(
    client: Client, rt: Runtime
) -> None:
    token, uidb64 = await signup_link(client, rt)
    verified = await asyncio.gather(*(client.post(f"/verify/{token}/{uidb64}") for _ in range(8)))
    codes = sorted(r.status_code for r in verified)
    assert codes[0] == 200 and all(c in (200, 400, 409) for c in codes), codes
