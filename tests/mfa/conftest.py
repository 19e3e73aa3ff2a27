"""MFA fixtures: a frozen TOTP clock, and a person enrolled through the real HTTP endpoints."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from tests.support.factories import signed_in
from tests.support.mfa import Enrolled, FrozenClock, enrol, freeze_totp_clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    return freeze_totp_clock(monkeypatch)


@pytest.fixture
async def enrolled(client: Client, rt: Runtime, clock: FrozenClock) -> Enrolled:
    user = await signed_in(rt, email="mfa@example.com")
    return await enrol(client, user, clock)
