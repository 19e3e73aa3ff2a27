"""`GET /me` and `GET /auth/check`: who a token belongs to, for front ends and reverse proxies;
401 for a missing, malformed, expired or revoked token."""

from __future__ import annotations

from datetime import timedelta

from quart.typing import TestClientProtocol as Client
from sqlalchemy import update

from quart_template.db import utcnow
from quart_template.runtime import Runtime
from quart_template.sessions.models import AuthSession
from tests.support.accounts import access_token, log_in
from tests.support.factories import create_person, signed_in
from tests.support.http import json_error

USER_FIELDS = {
    "active", "email", "entity_id", "first_name", "last_name", "latest", "login_method",
    "verified", "verified_on", "mfa_enabled", "expires_in",
}  # fmt: skip


async def test_me_is_the_login_user_object_without_the_token(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    login = await log_in(client)
    logged_in = (await login.get_json())["user"]
    token = await access_token(login)
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["success"] is True and set(body["user"]) == USER_FIELDS
    assert body["user"] == {k: v for k, v in logged_in.items() if k != "access_token"}


async def test_auth_check_answers_headers_and_an_empty_body(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt, email="grace@example.com", verified=False)
    response = await client.get("/auth/check", headers=user.headers)
    assert response.status_code == 200
    assert await response.get_data() == b""
    sessions = await (await client.get("/sessions", headers=user.headers)).get_json()
    assert response.headers["X-User-Id"] == user.person.entity_id
    assert response.headers["X-User-Email"] == "grace@example.com"
    assert response.headers["X-User-Verified"] == "false"
    assert response.headers["X-User-MFA"] == "false"
    assert response.headers["X-Session-Id"] == sessions["sessions"][0]["id"]


async def test_missing_malformed_expired_and_revoked_tokens_are_401(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    expired = await signed_in(rt, email="old@example.com")
    async with rt.db() as db, db.begin():
        await db.execute(
            update(AuthSession)
            .where(AuthSession.person_id == expired.person.entity_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    revoked = await signed_in(rt, email="gone@example.com")
    assert (await client.post("/logout", headers=revoked.headers)).status_code == 200
    for path in ("/me", "/auth/check"):
        assert (await client.get(path, headers=user.headers)).status_code == 200
        for headers in (
            {},
            {"Authorization": "Bearer"},
            {"Authorization": f"Bearer {user.token}x"},
            {"Authorization": "Token abc"},
            expired.headers,
            revoked.headers,
        ):
            response = await client.get(path, headers=headers)
            await json_error(response, 401)
            assert "X-User-Id" not in response.headers
            assert "WWW-Authenticate" not in response.headers
