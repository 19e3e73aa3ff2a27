"""Login: one answer for every bad credential, throttling, rehashing, and the MFA hand-off."""

from __future__ import annotations

import logging
import time

import pytest
from argon2 import PasswordHasher
from quart.typing import TestClientProtocol as Client
from sqlalchemy import update
from werkzeug.security import generate_password_hash

from quart_template.accounts.models import Person
from quart_template.accounts.repository import get_person
from quart_template.runtime import Runtime
from tests.support.accounts import log_in
from tests.support.factories import DEFAULT_PASSWORD, create_person

BAD_CREDENTIALS = "Invalid email or password."


async def _stored_hash(rt: Runtime, entity_id: str) -> str | None:
    async with rt.db() as db:
        person = await get_person(db, entity_id=entity_id, with_password=True)
        assert person is not None
        return person.password_hash


async def _set_hash(rt: Runtime, entity_id: str, value: str) -> None:
    async with rt.db() as db, db.begin():
        await db.execute(
            update(Person).where(Person.entity_id == entity_id).values(password_hash=value)
        )


async def test_login_returns_the_seed_user_object_with_a_fresh_token(
    client: Client, rt: Runtime
) -> None:
    person = await create_person(rt)
    first = await log_in(client)
    second = await log_in(client)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    body = await first.get_json()
    assert body["success"] is True
    user = body["user"]
    assert user["entity_id"] == person.entity_id and user["email"] == "ada@example.com"
    assert (user["active"], user["latest"], user["verified"], user["mfa_enabled"]) == (
        True, True, True, False,
    )  # fmt: skip
    assert user["login_method"] is None
    assert abs(user["expires_in"] - (time.time() + rt.settings.access_token_expire)) < 60
    assert "password" not in str(body) and "hash" not in str(body)
    assert user["access_token"] != (await second.get_json())["user"]["access_token"]


async def test_email_is_matched_case_insensitively(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    assert (await log_in(client, " ADA@example.COM ")).status_code == 200


async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt)
    wrong = await log_in(client, "ada@example.com", "not the password")
    unknown = await log_in(client, "nobody@example.com", DEFAULT_PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert await response.get_json() == {"success": False, "message": BAD_CREDENTIALS}
        assert "WWW-Authenticate" not in response.headers


async def test_person_without_a_password_cannot_log_in_with_one(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt, password=None)
    assert (await log_in(client, "ada@example.com", "")).status_code == 401
    assert (await log_in(client, "ada@example.com", "anything at all")).status_code == 401


async def test_login_body_is_validated(client: Client) -> None:
    for body in (
        {"email": "ada@example.com"},
        {"password": "x"},
        {"email": "ada@example.com", "password": "x", "remember": True},
        {"email": "a" * 321, "password": "x"},
    ):
        response = await client.post("/login", json=body)
        assert response.status_code == 400, body


async def test_five_failures_lock_the_account_with_retry_after(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    for _ in range(5):
        assert (await log_in(client, password="wrong password")).status_code == 401
    locked = await log_in(client)  # even the right password waits
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert (await locked.get_json())["success"] is False
    # Other accounts are not locked by it.
    await create_person(rt, email="bob@example.com")
    assert (await log_in(client, "bob@example.com")).status_code == 200


async def test_a_throttled_account_can_still_ask_for_a_reset(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    for _ in range(6):
        await log_in(client, password="wrong password")
    response = await client.post("/forgot_password", json={"email": "ada@example.com"})
    assert response.status_code == 200


async def test_login_rehashes_a_hash_made_with_older_parameters(
    client: Client, rt: Runtime
) -> None:
    person = await create_person(rt)
    old = PasswordHasher(time_cost=3, memory_cost=19456, parallelism=1).hash(DEFAULT_PASSWORD)
    await _set_hash(rt, person.entity_id, old)
    assert (await log_in(client)).status_code == 200
    new = await _stored_hash(rt, person.entity_id)
    assert new != old and new is not None and new.startswith("$argon2id$")
    assert "t=2" in new
    assert (await log_in(client)).status_code == 200


async def test_login_upgrades_a_legacy_werkzeug_hash(client: Client, rt: Runtime) -> None:
    person = await create_person(rt)
    await _set_hash(rt, person.entity_id, generate_password_hash(DEFAULT_PASSWORD, "pbkdf2:sha256"))
    assert (await log_in(client, password="wrong password")).status_code == 401
    assert (await log_in(client)).status_code == 200
    upgraded = await _stored_hash(rt, person.entity_id)
    assert upgraded is not None and upgraded.startswith("$argon2id$")
    assert (await log_in(client)).status_code == 200


async def test_an_mfa_person_gets_the_second_step_and_no_token(client: Client, rt: Runtime) -> None:
    person = await create_person(rt)
    async with rt.db() as db, db.begin():
        await db.execute(
            update(Person).where(Person.entity_id == person.entity_id).values(mfa_enabled=True)
        )
    response = await log_in(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["user"] == {"mfa_enabled": True, "email": "ada@example.com", "verified": True}
    assert body["mfa_token"] and "access_token" not in str(body)


async def test_login_logs_events_without_secrets(
    client: Client, rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    await create_person(rt)
    caplog.set_level(logging.INFO)
    await log_in(client, password="wrong password")
    token = (await (await log_in(client)).get_json())["user"]["access_token"]
    events = [getattr(record, "event", None) for record in caplog.records]
    assert "login_failed" in events and "login_succeeded" in events
    text = caplog.text + " ".join(str(record.__dict__) for record in caplog.records)
    for secret in (DEFAULT_PASSWORD, "wrong password", token):
        assert secret not in text
