"""Every security event leaves one structured log line and, for a known person, a row in their
history: logins, logouts, revocations, password changes, MFA changes, recovery codes,
re-authentication. Never a secret in either."""

from __future__ import annotations

import asyncio
import logging

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.runtime import Runtime
from quart_template.security.models import SecurityEvent
from tests.support.accounts import access_token, log_in
from tests.support.factories import DEFAULT_PASSWORD, PersonWithToken, create_person
from tests.support.mfa import FrozenClock, enrol, freeze_totp_clock, password_step

AGENT = {"User-Agent": "events-test/2.0"}


async def _types(rt: Runtime, person_id: str) -> list[str]:
    """The person's history, oldest first (background writes finished)."""
    await asyncio.gather(*rt.background)
    async with rt.db() as db:
        rows = await db.execute(
            select(SecurityEvent.type)
            .where(SecurityEvent.person_id == person_id)
            .order_by(SecurityEvent.id)
        )
        return list(rows.scalars())


async def test_logins_logouts_and_revocations_are_in_the_history(
    client: Client, rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    person = await create_person(rt)
    with caplog.at_level(logging.INFO, logger="quart_template.security"):
        assert (await log_in(client, password="wrong password")).status_code == 401
        assert (await log_in(client, email="nobody@example.com")).status_code == 401
        first = await access_token(await log_in(client, headers=AGENT))
        second = await access_token(await log_in(client))
        sessions = await client.get("/sessions", headers={"Authorization": f"Bearer {second}"})
        other = next(s for s in (await sessions.get_json())["sessions"] if not s["current"])
        revoked = await client.delete(
            f"/sessions/{other['id']}", headers={"Authorization": f"Bearer {second}"}
        )
        assert revoked.status_code == 200
        logout = await client.post("/logout", headers={"Authorization": f"Bearer {second}"})
        assert logout.status_code == 200
    assert first != second
    assert await _types(rt, person.entity_id) == [
        "login_failed",
        "login_succeeded",
        "login_succeeded",
        "session_revoked",
        "logout",
    ]
    lines = [r for r in caplog.records if getattr(r, "security_event", False)]
    assert [r.event for r in lines][:2] == ["login_failed", "login_failed"]
    assert lines[1].person_id is None  # the unknown address: a log line, no history row
    assert all(DEFAULT_PASSWORD not in r.getMessage() for r in caplog.records)
    async with rt.db() as db:
        row = (
            (await db.execute(select(SecurityEvent).where(SecurityEvent.type == "login_succeeded")))
            .scalars()
            .first()
        )
    assert row is not None and row.user_agent == "events-test/2.0"


async def test_password_and_mfa_changes_are_in_the_history(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock: FrozenClock = freeze_totp_clock(monkeypatch)
    person = await create_person(rt, email="mfa@example.com")
    token = await access_token(await log_in(client, email="mfa@example.com"))
    user = PersonWithToken(person=person, password=DEFAULT_PASSWORD, token=token)
    enrolled = await enrol(client, user, clock)
    assert (await client.get("/recovery_codes", headers=user.headers)).status_code == 200
    assert (await client.post("/recovery_codes", headers=user.headers)).status_code == 200
    codes = (await (await client.get("/recovery_codes", headers=user.headers)).get_json())["data"]
    mfa_token = await password_step(client, enrolled)
    used = await client.post(
        "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": codes[0]}
    )
    assert used.status_code == 200
    wrong = await client.post(
        "/setup_mfa", json={"mfa_enabled": False, "password": "not the password"},
        headers=user.headers,
    )  # fmt: skip
    assert wrong.status_code == 403
    off = await client.post(
        "/setup_mfa", json={"mfa_enabled": False, "otp": enrolled.next_code()}, headers=user.headers
    )
    assert off.status_code == 200
    changed = await client.post(
        "/update_password",
        json={"existing_password": DEFAULT_PASSWORD, "new_password": "another fine passphrase"},
        headers=user.headers,
    )
    assert changed.status_code == 200
    assert await _types(rt, person.entity_id) == [
        "login_succeeded",
        "mfa_otp_confirmed",
        "mfa_enabled",
        "recovery_codes_viewed",
        "recovery_codes_regenerated",
        "recovery_codes_viewed",
        "login_mfa_required",
        "recovery_code_used",
        "login_succeeded",
        "reauth_failed",
        "mfa_disabled",
        "password_changed",
    ]
    async with rt.db() as db:
        rows = (await db.execute(select(SecurityEvent))).scalars().all()
    stored = " ".join(f"{r.type} {r.ip} {r.user_agent}" for r in rows)
    assert codes[0] not in stored and DEFAULT_PASSWORD not in stored
