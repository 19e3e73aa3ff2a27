"""MFA over HTTP: a clock the server's TOTP check reads (moved, never slept on), and people
enrolled through the real endpoints with a real pyotp authenticator."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.mfa import totp
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
