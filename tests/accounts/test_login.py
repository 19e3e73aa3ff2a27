"""Login: one answer for every bad credential, throttling per account and per client IP,
rehashing, and the MFA hand-off."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from quart.typing import TestClientProtocol as Client
from sqlalchemy import update
from werkzeug.security import generate_password_hash

from quart_template.accounts.models import Person
from quart_template.accounts.repository import get_person
from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.accounts import USER_FIELDS, log_in
from tests.support.factories import DEFAULT_PASSWORD, create_person
from tests.support.http import auth, json_error, retry_after

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
    assert set(user) == USER_FIELDS
    assert user["entity_id"] == person.entity_id and user["email"] == "ada@example.com"
    assert len(user["entity_id"]) == 32 and int(user["entity_id"], 16) >= 0
    assert (user["first_name"], user["last_name"]) == ("Ada", "Lovelace")
    assert (user["active"], user["latest"], user["verified"], user["mfa_enabled"]) == (
        True, True, True, False,
    )  # fmt: skip
    assert user["login_method"] is None
    assert type(user["expires_in"]) is int
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
    not_an_email = await log_in(client, "not an email", "x")  # a 401 too, not a 400
    for response in (wrong, unknown, not_an_email):
        assert await json_error(response, 401) == {"success": False, "message": BAD_CREDENTIALS}


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
    await retry_after(await log_in(client, password="wrong password"))
    await retry_after(await log_in(client))  # even the right password waits
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
    assert set(body) == {"success", "user", "mfa_token"} and body["success"] is True
    assert body["user"] == {"mfa_enabled": True, "email": "ada@example.com", "verified": True}
    assert body["mfa_token"] and "access_token" not in str(body)
    # The mfa_token is no access token.
    await json_error(await client.get("/sessions", headers=auth(body["mfa_token"])), 401)


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


def _from(ip: str) -> dict[str, tuple[str, int]]:
    """The request's socket peer."""
    return {"client": (ip, 40000)}


async def test_fifty_failures_from_one_ip_are_limited_by_default(client: Client) -> None:
    for i in range(50):
        response = await log_in(
            client, f"ip{i}@example.com", "wrong", scope_base=_from("203.0.113.50")
        )
        await json_error(response, 401)
    last = "ip-last@example.com"
    await retry_after(await log_in(client, last, "wrong", scope_base=_from("203.0.113.50")))
    await json_error(await log_in(client, last, "wrong", scope_base=_from("203.0.113.51")), 401)


async def test_failures_per_ip_ignore_an_untrusted_forwarded_for(
    make_settings: Callable[..., Settings],
) -> None:
    async with create_app(make_settings(login_limit_per_ip="3/15minutes")).test_app() as served:
        client = served.test_client()
        for i in range(3):
            response = await log_in(
                client,
                f"u{i}@example.com",
                "wrong passphrase",
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
                scope_base=_from("203.0.113.7"),
            )
            await json_error(response, 401)
        response = await log_in(
            client,
            "u9@example.com",
            "wrong passphrase",
            headers={"X-Forwarded-For": "198.51.100.99"},
            scope_base=_from("203.0.113.7"),
        )
        await retry_after(response)


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(login_limit_per_ip="3/15minutes", trusted_proxies="10.0.0.0/8")
    async with create_app(settings).test_app() as served:
        client = served.test_client()
        proxy = _from("10.1.2.3")
        for i in range(6):  # six clients, one failure each: nobody reaches three
            response = await log_in(
                client,
                f"v{i}@example.com",
                "wrong passphrase",
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
                scope_base=proxy,
            )
            await json_error(response, 401)
        for i in range(3):
            # The client made up the left entry; the proxy appended the real address.
            response = await log_in(
                client,
                f"w{i}@example.com",
                "wrong passphrase",
                headers={"X-Forwarded-For": f"192.0.2.{i}, 198.51.100.20"},
                scope_base=proxy,
            )
            await json_error(response, 401)
        response = await log_in(
            client,
            "w9@example.com",
            "wrong passphrase",
            headers={"X-Forwarded-For": "192.0.2.77, 198.51.100.20"},
            scope_base=proxy,
        )
        await retry_after(response)
        other = await log_in(
            client,
            "w9@example.com",
            "wrong passphrase",
            headers={"X-Forwarded-For": "198.51.100.21"},
            scope_base=proxy,
        )
        await json_error(other, 401)


async def test_successful_logins_do_not_count_against_the_ip(
    make_settings: Callable[..., Settings],
) -> None:
    async with create_app(make_settings(login_limit_per_ip="3/15minutes")).test_app() as served:
        client = served.test_client()
        await create_person(served.app.extensions["runtime"])
        for _ in range(6):
            assert (await log_in(client)).status_code == 200
