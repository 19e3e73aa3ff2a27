"""Passkeys over HTTP: register one with the software authenticator, sign in with it, and age
a ceremony's challenge (in the database, no sleeping)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quart.typing import TestClientProtocol as Client
from sqlalchemy import update

from quart_template.db import utcnow
from quart_template.passkeys.models import PasskeyChallenge
from quart_template.runtime import Runtime
from tests.support.webauthn import SoftAuthenticator

ORIGIN = "http://frontend.test"  # the test settings' FRONTEND_URL: the RP ID is its host


async def registration_options(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/passkeys/register/options", headers=headers)
    body: dict[str, Any] = await response.get_json()
    assert response.status_code == 200, body
    return body


async def register(
    client: Client,
    headers: dict[str, str],
    authenticator: SoftAuthenticator,
    *,
    name: str | None = None,
) -> dict[str, Any]:
    """Options, the authenticator's answer, the stored passkey (201)."""
    options = await registration_options(client, headers)
    body: dict[str, Any] = {"credential": authenticator.create(options)}
    if name is not None:
        body["name"] = name
    response = await client.post("/passkeys/register", json=body, headers=headers)
    answer: dict[str, Any] = await response.get_json()
    assert response.status_code == 201, answer
    return answer


async def login_options(client: Client, **body: str) -> dict[str, Any]:
    response = await client.post("/passkeys/login/options", json=body)
    answer: dict[str, Any] = await response.get_json()
    assert response.status_code == 200, answer
    return answer


async def passkey_login(
    client: Client, authenticator: SoftAuthenticator, *, email: str | None = None, **lie: Any
) -> Any:
    """Options (for `email`, or discoverable), then POST /passkeys/login with the assertion
    (`lie`: what the authenticator should get wrong)."""
    options = await login_options(client, **({"email": email} if email else {}))
    credential = authenticator.get(options, **lie)
    return await client.post("/passkeys/login", json={"credential": credential})


async def expire_challenges(rt: Runtime) -> None:
    """Every passkey challenge issued so far is past its 5 minutes."""
    async with rt.db() as db, db.begin():
        await db.execute(
            update(PasskeyChallenge).values(expires_at=utcnow() - timedelta(seconds=1))
        )
