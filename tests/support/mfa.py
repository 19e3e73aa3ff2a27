"""MFA over HTTP: a clock the server's TOTP check reads (moved, never slept on), and people
enrolled through the real endpoints with a real pyotp authenticator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.mfa import totp
from tests.fakes.providers import FakeProviders
from tests.support.factories import PersonWithToken


class FrozenClock:
    """Stands still in the middle of a 30-second step until a test moves it."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) // 30 * 30 + 15)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 30) -> None:
        self.now += seconds


def freeze_totp_clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """Make the server's TOTP check read a frozen clock."""
    frozen = FrozenClock()
    monkeypatch.setattr(totp, "clock", frozen)
    return frozen


@dataclass
class Enrolled:
    """A person with MFA on: their token, the secret their app holds, their recovery codes."""

    user: PersonWithToken
    secret: str
    codes: list[str]
    clock: FrozenClock

    @property
    def email(self) -> str:
        return self.user.person.email

    @property
    def headers(self) -> dict[str, str]:
        return self.user.headers

    def code(self, offset_steps: int = 0) -> str:
        """What the authenticator app shows now (or `offset_steps` steps away)."""
        return pyotp.TOTP(self.secret).at(self.clock.now + 30 * offset_steps)

    def next_code(self) -> str:
        """A code of a step not used yet: moves the clock on one step first."""
        self.clock.advance()
        return self.code()


async def enrol(
    client: Client, user: PersonWithToken, clock: FrozenClock, *, login_type: str = "signup"
) -> Enrolled:
    """/qrcode, /verify_otp, /setup_mfa — each code from its own time step."""
    body = {"login_type": login_type}
    if login_type == "signup":
        body["password"] = user.password or ""
    response = await client.post("/qrcode", json=body, headers=user.headers)
    assert response.status_code == 200, await response.get_json()
    secret = (await response.get_json())["secret"]
    enrolled = Enrolled(user=user, secret=secret, codes=[], clock=clock)
    response = await client.post("/verify_otp", json={"otp": enrolled.code()}, headers=user.headers)
    assert response.status_code == 200, await response.get_json()
    enrolled.codes = (await response.get_json())["data"]["codes"]
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": True, "otp": enrolled.next_code()}, headers=user.headers
    )
    assert response.status_code == 200, await response.get_json()
    clock.advance()
    return enrolled


async def password_step(client: Client, enrolled: Enrolled) -> str:
    """Log in with the password; an MFA person gets an `mfa_token` and no access token."""
    response = await client.post(
        "/login", json={"email": enrolled.email, "password": enrolled.user.password}
    )
    body = await response.get_json()
    assert response.status_code == 200, body
    assert "access_token" not in body["user"]
    token: str = body["mfa_token"]
    return token


def contains_key(value: Any, key: str) -> bool:
    """Whether `key` appears anywhere in a JSON value."""
    if isinstance(value, dict):
        return key in value or any(contains_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(contains_key(v, key) for v in value)
    return False


# --- still used by tests/contract until it is folded into the domain folders ----------------

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
