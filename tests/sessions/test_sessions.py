"""The session list: see where you are signed in, sign out any one of those places."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.sessions.models import AuthSession, session_audit
from quart_template.settings import Settings
from tests.support.accounts import access_token, log_in
from tests.support.factories import DEFAULT_PASSWORD, create_person, signed_in
from tests.support.http import auth, json_error
from tests.support.retention import session_of


async def _login(client: Client, agent: str) -> dict[str, str]:
    """Log in again from another device: its Authorization header."""
    response = await log_in(client, headers={"User-Agent": agent})
    return auth(await access_token(response), "Bearer")


async def test_list_shows_the_callers_live_sessions(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    phone = await _login(client, "Phone/1.0")
    await signed_in(rt, email="eve@example.com")  # somebody else's session stays invisible
    response = await client.get("/sessions", headers=phone)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["success"] is True
    sessions = body["sessions"]
    assert len(sessions) == 2
    current = [s for s in sessions if s["current"]]
    assert len(current) == 1 and current[0]["user_agent"] == "Phone/1.0"
    for item in sessions:
        assert set(item) >= {"id", "created", "last_used", "ip", "user_agent", "current"}
        assert len(item["id"]) == 32 and abs(item["created"] - time.time()) < 60
        assert user.token not in str(item)


async def test_revoking_another_session_ends_it(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    phone = await _login(client, "Phone/1.0")
    listed = (await (await client.get("/sessions", headers=phone)).get_json())["sessions"]
    [laptop] = [s for s in listed if not s["current"]]
    response = await client.delete(f"/sessions/{laptop['id']}", headers=phone)
    assert response.status_code == 200
    assert (await response.get_json())["success"] is True
    assert (await client.get("/sessions", headers=user.headers)).status_code == 401
    assert (await client.get("/sessions", headers=phone)).status_code == 200
    again = await client.delete(f"/sessions/{laptop['id']}", headers=phone)
    assert again.status_code == 404


async def test_revoking_the_current_session_signs_out(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    [mine] = (await (await client.get("/sessions", headers=user.headers)).get_json())["sessions"]
    assert (await client.delete(f"/sessions/{mine['id']}", headers=user.headers)).status_code == 200
    assert (await client.get("/sessions", headers=user.headers)).status_code == 401


async def test_someone_elses_or_an_unknown_session_is_404(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    eve = await signed_in(rt, email="eve@example.com")
    [eves] = (await (await client.get("/sessions", headers=eve.headers)).get_json())["sessions"]
    for session_id in (eves["id"], "0" * 32, "nope", "x" * 8000, "%00", "1", "-1"):
        response = await client.delete(f"/sessions/{session_id}", headers=user.headers)
        await json_error(response, 404)
    assert (await client.get("/sessions", headers=eve.headers)).status_code == 200


async def test_session_routes_need_a_token(client: Client) -> None:
    assert (await client.get("/sessions")).status_code == 401
    assert (await client.delete(f"/sessions/{'0' * 32}")).status_code == 401


async def test_use_refreshes_last_used(client: Client, rt: Runtime) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from quart_template.db import utcnow
    from quart_template.sessions.models import AuthSession

    user = await signed_in(rt)
    hour_ago = utcnow() - timedelta(hours=1)
    async with rt.db() as db, db.begin():
        await db.execute(update(AuthSession).values(last_used_at=hour_ago))
    await client.get("/sessions", headers=user.headers)
    [item] = (await (await client.get("/sessions", headers=user.headers)).get_json())["sessions"]
    assert abs(item["last_used"] - time.time()) < 60


async def test_sessions_record_the_believable_client_ip(
    make_settings: Callable[..., Settings],
) -> None:
    async with create_app(make_settings(trusted_proxies="10.0.0.0/8")).test_app() as served:
        client = served.test_client()
        await create_person(served.app.extensions["runtime"])
        spoofed = {"X-Forwarded-For": "192.0.2.1"}
        direct = await log_in(client, headers=spoofed, scope_base={"client": ("203.0.113.5", 1)})
        proxied = await log_in(client, headers=spoofed, scope_base={"client": ("10.0.0.9", 1)})
        token = await access_token(direct)
        assert await access_token(proxied)
        listed = await (await client.get("/sessions", headers=auth(token))).get_json()
        assert sorted(s["ip"] for s in listed["sessions"]) == ["192.0.2.1", "203.0.113.5"]


async def test_parallel_requests_of_one_person_never_fail(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    logins = await asyncio.gather(*(log_in(client) for _ in range(10)))
    assert [r.status_code for r in logins] == [200] * 10
    tokens = [await access_token(r) for r in logins]
    reads = await asyncio.gather(
        *(client.get("/sessions", headers=auth(t)) for t in [user.token, *tokens] * 2)
    )
    assert {r.status_code for r in reads} == {200}
    ids = [s["id"] for s in (await reads[0].get_json())["sessions"]]
    mixed = await asyncio.gather(
        *(client.delete(f"/sessions/{i}", headers=user.headers) for i in ids[:5]),
        *(client.post("/logout", headers=auth(t)) for t in tokens[5:]),
        client.post("/forgot_password", json={"email": user.person.email}),
        client.post("/resend_confirmation", json={"email": user.person.email}),
        log_in(client),
    )
    assert all(r.status_code < 500 for r in mixed), [r.status_code for r in mixed]


async def test_ending_every_session_leaves_expired_ones_as_they_were(
    client: Client, rt: Runtime
) -> None:
    """An expired session has ended: a password change makes no new version of it (nor an
    update that could race housekeeping deleting it)."""
    user = await signed_in(rt)
    expired = await session_of(rt, user.person, expired_days_ago=40)
    changed = await client.post(
        "/update_password",
        json={"existing_password": DEFAULT_PASSWORD, "new_password": "a brand new passphrase"},
        headers=user.headers,
    )
    assert changed.status_code == 200
    async with rt.db() as db:
        row = await db.get_one(AuthSession, expired)
        history = (
            await db.execute(select(session_audit).where(session_audit.c.entity_id == expired))
        ).all()
    assert (row.version, row.active, row.revoked_at, history) == (1, True, None, [])
