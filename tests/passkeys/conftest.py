"""Passkey fixtures: a signed-in person and a software authenticator for the test origin."""

from __future__ import annotations

import pytest

from quart_template.runtime import Runtime
from tests.support.factories import PersonWithToken, signed_in
from tests.support.passkeys import ORIGIN
from tests.support.webauthn import SoftAuthenticator


@pytest.fixture
async def user(rt: Runtime) -> PersonWithToken:
    return await signed_in(rt)


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(origin=ORIGIN)
