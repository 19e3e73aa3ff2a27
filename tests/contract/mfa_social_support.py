"""Helpers of the MFA and social black-box contract tests (API.md §2, §4, §7, §8 and the seed
README): HTTP only, through the test client, with the fake providers on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pyotp
from quart.typing import TestClientProtocol as Client

from tests.fakes.providers import FakeProviders

PASSWORD = "correct horse battery staple"
USER_KEYS = {
    "access_token",
    "active",
    "email",
    "entity_id",
    "first_name",
    "last_name",
    "latest",
    "login_method",
    "verified",
    "verified_on",
    "mfa_enabled",
    "expires_in",
}


async def providers_fixture() -> AsyncIterator[FakeProviders]:
    fake = FakeProviders()
    fake.google_key("k1")
    await fake.start()
    yield fake
    await fake.stop()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Basic {token}"}


async def post(client: Client, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
    response = await client.post(path, json=body, headers=auth(token) if token else {})
    return response.status_code, await response.get_json()


async def sign_up_and_log_in(client: Client, email: str, password: str = PASSWORD) -> str:
    """A person made through /signup, signed in through /login: their access token."""
    status, body = await post(
        client,
        "/signup",
        {
            "login_method": "signup",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": email,
            "password": password,
        },
    )
    assert status in (200, 201), body
    status, body = await post(client, "/login", {"email": email, "password": password})
    assert status == 200, body
    token: str = body["user"]["access_token"]
    return token


def contains_key(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(contains_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(contains_key(v, key) for v in value)
    return False


async def fresh_step() -> float:
    """The middle of a TOTP time step with room on both sides (no assertion depends on timing:
    this only keeps step-relative codes from straddling a boundary)."""
    if time.time() % 30 > 25:
        await asyncio.sleep(30.5 - time.time() % 30)
    return time.time()


class Authenticator:
    """The person's authenticator app: codes of the step `offset` steps from `t0`."""

    def __init__(self, secret: str, t0: float) -> None:
        self.totp = pyotp.TOTP(secret)
        self.t0 = t0

    def code(self, offset: int = 0) -> str:
        return self.totp.at(self.t0 + 30 * offset)
