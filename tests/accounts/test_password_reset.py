"""Forgot and reset password: one link, one use, every session ends, nobody is signed in."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import pytest
from itsdangerous.timed import TimestampSigner
from quart.typing import TestClientProtocol as Client
from sqlalchemy import event, update

from quart_template.accounts import tokens
from quart_template.accounts.models import Person
from quart_template.accounts.tokens import encode_uid
from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.accounts import emails, last_link, link_path, log_in, reset_link
from tests.support.factories import DEFAULT_PASSWORD, create_person, signed_in
from tests.support.http import json_error, retry_after
from tests.support.signed import bad_link_payloads, bad_tokens

SENT = "Password reset email sent to the user"
DONE = "Your password has been updated! You are now able to log in."
NEW_PASSWORD = "a brand new passphrase"


async def test_forgot_answers_the_same_for_known_and_unknown_emails(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt)
    for email in ("ada@example.com", "nobody@example.com", "ADA@example.com"):
        response = await client.post("/forgot_password", json={"email": email})
        assert response.status_code == 200
        assert await response.get_json() == {"success": True, "message": SENT}
    sent = await emails(rt, event="RESET_PASSWORD")
    assert [email["to_emails"] for email in sent] == [["ada@example.com"]] * 2
    assert sent[0]["data"]["password_reset_url"].startswith(
        "http://frontend.test/session/reset-password/"
    )
    assert sent[0]["data"]["recipient_name"] == "Ada"


async def test_forgot_refuses_unknown_fields(client: Client) -> None:
    body = {"email": "ada@example.com", "x": 1}
    await json_error(await client.post("/forgot_password", json=body), 400)


async def test_forgot_is_rate_limited_per_address(client: Client, rt: Runtime) -> None:
    statuses = [
        (await client.post("/forgot_password", json={"email": "x@example.com"})).status_code
        for _ in range(5)
    ]
    assert statuses == [200] * 5
    await retry_after(await client.post("/forgot_password", json={"email": "x@example.com"}))


async def test_forgot_and_resend_have_a_budget_each(client: Client) -> None:
    email = {"email": "both-budgets@example.com"}
    for path in ("/forgot_password", "/resend_confirmation"):
        for _ in range(5):
            assert (await client.post(path, json=email)).status_code == 200
        await retry_after(await client.post(path, json=email))


async def test_reset_sets_the_password_revokes_sessions_and_does_not_sign_in(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    token, uidb64 = await reset_link(client, rt)
    assert uidb64 == encode_uid(user.person.entity_id)
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
    assert notice["to_emails"] == ["ada@example.com"]
    assert notice["data"] == {"recipient_name": "Ada"}


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


async def test_an_older_reset_link_dies_when_a_newer_one_is_used(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt)
    first = await reset_link(client, rt)
    second = await reset_link(client, rt)
    done = await client.post(
        f"/reset_password/{second[0]}/{second[1]}", json={"password": "new phrase one"}
    )
    assert done.status_code == 200
    stale = await client.post(
        f"/reset_password/{first[0]}/{first[1]}", json={"password": "new phrase two"}
    )
    await json_error(stale, 400)
    assert (await log_in(client, password="new phrase one")).status_code == 200


async def test_tampered_swapped_and_foreign_purpose_tokens_are_refused(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt)
    bob = await create_person(rt, email="bob@example.com")
    token, uidb64 = await reset_link(client, rt)
    await client.post("/signup", json={
        "first_name": "New", "last_name": "Comer",
        "email": "new@example.com", "password": "a long enough passphrase",
    })  # fmt: skip
    verify_token, verify_uid = link_path(
        await last_link(rt, event="USER_CREATED", to="new@example.com"), "login"
    )
    for bad_token, bad_uid in [
        (token[:-3] + "abc", uidb64),
        ("garbage", uidb64),
        ("y" * 6000, uidb64),
        (token, encode_uid(bob.entity_id)),
        (token, encode_uid("f" * 32)),  # nobody's
        (token, "%%%"),
        (token, "!!"),
        (verify_token, verify_uid),
    ]:
        response = await client.post(
            f"/reset_password/{bad_token}/{bad_uid}", json={"password": NEW_PASSWORD}
        )
        await json_error(response, 400)
    assert (await log_in(client)).status_code == 200


async def test_a_genuinely_signed_reset_link_with_a_bad_payload_is_400(
    client: Client, rt: Runtime
) -> None:
    person = await create_person(rt)
    uidb64 = encode_uid(person.entity_id)
    good = {"p": person.entity_id, "f": tokens.password_fingerprint(person, rt.settings)}
    serializer = tokens._serializer(rt.settings, tokens.RESET)
    payloads = bad_link_payloads(person.entity_id)
    for name, token in bad_tokens(serializer, payloads, good=good).items():
        response = await client.post(
            f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
        )
        assert response.status_code == 400, name
        await json_error(response, 400)
    # The person's password is untouched.
    assert (await log_in(client, "ada@example.com", DEFAULT_PASSWORD)).status_code == 200


async def test_an_expired_reset_link_is_refused(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_person(rt)
    token, uidb64 = await reset_link(client, rt)
    later = int(time.time()) + 3600 + 5  # a link works for an hour
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
    )
    await json_error(response, 400)
    monkeypatch.undo()  # only the time refused it: the link still works
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200


async def test_the_reset_link_lifetime_is_a_setting(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with create_app(make_settings(reset_token_expire=7200)).test_app() as served:
        client = served.test_client()
        await create_person(served.app.extensions["runtime"])
        token, uidb64 = await reset_link(client, served.app.extensions["runtime"])
        later = int(time.time()) + 3600 + 5
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
        response = await client.post(
            f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
        )
        assert response.status_code == 200


async def test_reset_applies_the_password_policy(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    token, uidb64 = await reset_link(client, rt)
    url = f"/reset_password/{token}/{uidb64}"
    for password in ("short", "password", "12345678", "x" * 129, "ada@example.com"):
        await json_error(await client.post(url, json={"password": password}), 400)
    for body in (
        {},
        {"password": None},
        {"password": 12345678},
        {"password": ["a"]},
        {"pass": "x"},
    ):
        await json_error(await client.post(url, json=body), 400)
    # The link is still good after refused attempts.
    ok = await client.post(url, json={"password": NEW_PASSWORD})
    assert ok.status_code == 200


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


async def test_odd_link_paths_are_a_json_4xx(client: Client) -> None:
    odd = ["x" * 8000, "%00", "..", "%2F", "%E2%82%AC", "=", "-_", "A" * 43, "_" * 64]
    for first in odd:
        for second in odd:
            response = await client.post(
                f"/reset_password/{first}/{second}", json={"password": "a fine passphrase"}
            )
            assert 400 <= response.status_code < 500, (first, second)
            await json_error(response, response.status_code)


async def test_parallel_resets_with_one_link_exactly_one_wins(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    token, uidb64 = await reset_link(client, rt)
    resets = await asyncio.gather(
        *(
            client.post(f"/reset_password/{token}/{uidb64}", json={"password": f"new phrase {i}"})
            for i in range(8)
        )
    )
    codes = sorted(r.status_code for r in resets)
    assert codes.count(200) == 1 and all(c in (200, 400, 409) for c in codes), codes
    winner = next(i for i, r in enumerate(resets) if r.status_code == 200)
    assert (await log_in(client, password=f"new phrase {winner}")).status_code == 200


async def test_a_reset_verifies_an_unverified_person(client: Client, rt: Runtime) -> None:
    """The link came by email, so the address is proven: the next login says verified."""
    await create_person(rt, verified=False)
    token, uidb64 = await reset_link(client, rt)
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    login = await client.post("/login", json={"email": "ada@example.com", "password": NEW_PASSWORD})
    user = (await login.get_json())["user"]
    assert user["verified"] is True and isinstance(user["verified_on"], int)


async def test_forgot_does_the_same_database_work_for_known_and_unknown_addresses(
    make_settings: Callable[..., Settings],
) -> None:
    # The relay stays off, so every statement seen belongs to the request being watched.
    app = create_app(make_settings(relay_in_app=False))
    async with app.test_app() as served:
        rt: Runtime = app.extensions["runtime"]
        client = served.test_client()
        await create_person(rt)
        known = await _statements(rt, client, "ada@example.com")
        unknown = await _statements(rt, client, "nobody@example.com")
        # The same lookup, the same outbox INSERT and a committed write; the unknown address's
        # row is withdrawn again before the commit, so only the known one is emailed.
        assert ("INSERT", "outbox") in known and known[-1] == ("COMMIT", "")
        assert [s for s in unknown if s != ("DELETE", "outbox")] == known
        assert unknown.count(("DELETE", "outbox")) == 1
        sent = await emails(rt, event="RESET_PASSWORD")
        assert [email["to_emails"] for email in sent] == [["ada@example.com"]]


async def _statements(rt: Runtime, client: Client, email: str) -> list[tuple[str, str]]:
    """(verb, table) of each statement one `/forgot_password` ran, and ("COMMIT", "")."""
    seen: list[tuple[str, str]] = []

    def statement(conn: object, cursor: object, sql: str, *args: object) -> None:
        verb = sql.split(None, 1)[0].upper()
        table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+[`\"]?(\w+)", sql, re.IGNORECASE)
        seen.append((verb, table.group(1) if table else ""))

    def commit(conn: object) -> None:
        seen.append(("COMMIT", ""))

    engine = rt.engine.sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        response = await client.post("/forgot_password", json={"email": email})
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert response.status_code == 200
    return seen
