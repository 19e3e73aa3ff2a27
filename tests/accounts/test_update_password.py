"""Update password: the old one is re-checked; other sessions end, this one stays."""

from __future__ import annotations

import asyncio

from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from tests.support.accounts import emails, log_in
from tests.support.factories import DEFAULT_PASSWORD, signed_in

NEW_PASSWORD = "a brand new passphrase"


async def test_update_changes_the_password_and_ends_other_sessions(
    client: Client, rt: Runtime
) -> None:
    other = await signed_in(rt)
    response = await log_in(client)
    headers = {"Authorization": f"Basic {(await response.get_json())['user']['access_token']}"}
    updated = await client.post(
        "/update_password",
        json={"existing_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert updated.status_code == 200
    assert await updated.get_json() == {"success": True, "message": "Password has been updated!!"}
    assert (await client.get("/sessions", headers=headers)).status_code == 200
    assert (await client.get("/sessions", headers=other.headers)).status_code == 401
    assert (await log_in(client)).status_code == 401
    assert (await log_in(client, password=NEW_PASSWORD)).status_code == 200
    assert len(await emails(rt, event="PASSWORD_CHANGED", to="ada@example.com")) == 1


async def test_a_wrong_existing_password_is_403(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    response = await client.post(
        "/update_password",
        json={"existing_password": "not my password", "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert response.status_code == 403
    assert (await response.get_json())["success"] is False
    # The existing password is checked first: a wrong one is a 403 whatever the new one is.
    weak = await client.post(
        "/update_password",
        json={"existing_password": "not my password", "new_password": "password"},
        headers=user.headers,
    )
    assert weak.status_code == 403
    assert (await client.get("/sessions", headers=user.headers)).status_code == 200
    assert (await log_in(client)).status_code == 200
    assert await emails(rt, event="PASSWORD_CHANGED") == []


async def test_repeated_wrong_existing_passwords_are_throttled(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    body = {"existing_password": "not my password", "new_password": NEW_PASSWORD}
    statuses = [
        (await client.post("/update_password", json=body, headers=user.headers)).status_code
        for _ in range(6)
    ]
    assert statuses == [403] * 5 + [429]


async def test_the_new_password_follows_the_policy(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    for new in ("short", "12345678", "x" * 129, "ada@example.com"):
        response = await client.post(
            "/update_password",
            json={"existing_password": DEFAULT_PASSWORD, "new_password": new},
            headers=user.headers,
        )
        assert response.status_code == 400, new
    assert (await log_in(client)).status_code == 200


async def test_update_needs_a_token_and_a_valid_body(client: Client, rt: Runtime) -> None:
    body = {"existing_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    assert (await client.post("/update_password", json=body)).status_code == 401
    user = await signed_in(rt)
    for bad in ({"new_password": NEW_PASSWORD}, {**body, "extra": 1}):
        response = await client.post("/update_password", json=bad, headers=user.headers)
        assert response.status_code == 400


async def test_parallel_updates_of_one_person_never_fail(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    changes = await asyncio.gather(
        *(
            client.post(
                "/update_password",
                json={"existing_password": DEFAULT_PASSWORD, "new_password": f"changed phrase {i}"},
                headers=user.headers,
            )
            for i in range(6)
        )
    )
    codes = sorted(r.status_code for r in changes)
    assert 200 in codes and all(c in (200, 403, 409, 429) for c in codes), codes
