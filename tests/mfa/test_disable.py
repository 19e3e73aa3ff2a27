"""Turning MFA off: a current code or the password; neither is a 400, a wrong one a 403."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.accounts.models import Person
from quart_template.events.outbox import OutboxMessage
from quart_template.mfa.models import OtpMethod, RecoveryCode
from quart_template.runtime import Runtime
from tests.support.mfa import Enrolled, enrol


async def _disable(client: Client, enrolled: Enrolled, **body: object) -> tuple[int, dict]:
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": False, **body}, headers=enrolled.headers
    )
    return response.status_code, await response.get_json()


async def _mfa_state(rt: Runtime, enrolled: Enrolled) -> tuple[bool, int, int]:
    """(person.mfa_enabled, active OTP methods, active recovery codes)."""
    person_id = enrolled.user.person.entity_id
    async with rt.db() as db:
        person = await db.get(Person, person_id)
        assert person is not None
        methods = (
            await db.execute(
                select(OtpMethod).where(OtpMethod.person_id == person_id, OtpMethod.active)
            )
        ).all()
        codes = (
            await db.execute(
                select(RecoveryCode).where(RecoveryCode.person_id == person_id, RecoveryCode.active)
            )
        ).all()
    return person.mfa_enabled, len(methods), len(codes)


async def test_disable_with_a_current_code(client: Client, rt: Runtime, enrolled: Enrolled) -> None:
    status, body = await _disable(client, enrolled, otp=enrolled.code())
    assert status == 200
    assert body == {"message": "MFA disabled successfully", "success": True}
    assert await _mfa_state(rt, enrolled) == (False, 0, 0)
    async with rt.db() as db:
        actions = (
            await db.execute(select(OutboxMessage.action).where(OutboxMessage.kind == "email"))
        ).scalars()
        assert "MFA_DISABLED" in list(actions)
    # Disabled: a login needs no second factor any more.
    response = await client.post(
        "/login", json={"email": enrolled.email, "password": enrolled.user.password}
    )
    user = (await response.get_json())["user"]
    assert user["mfa_enabled"] is False and user["access_token"]


async def test_disable_with_the_password(client: Client, rt: Runtime, enrolled: Enrolled) -> None:
    status, _ = await _disable(client, enrolled, password=enrolled.user.password)
    assert status == 200
    assert await _mfa_state(rt, enrolled) == (False, 0, 0)


async def test_disable_failures(client: Client, rt: Runtime, enrolled: Enrolled) -> None:
    status, body = await _disable(client, enrolled)
    assert (status, body["success"]) == (400, False)
    for flag in ("maybe", None):
        response = await client.post(
            "/setup_mfa", json={"mfa_enabled": flag}, headers=enrolled.headers
        )
        assert response.status_code == 400, flag
    status, _ = await _disable(client, enrolled, password="not the password")
    assert status == 403
    status, _ = await _disable(client, enrolled, otp=enrolled.code(-2))  # two steps old
    assert status == 403
    live = {enrolled.code(offset) for offset in (-1, 0, 1)}
    wrong = next(code for code in ("123456", "654321", "111111", "222222") if code not in live)
    status, _ = await _disable(client, enrolled, otp=wrong)
    assert status == 403
    response = await client.post("/setup_mfa", json={"mfa_enabled": False, "otp": "000000"})
    assert response.status_code == 401
    assert await _mfa_state(rt, enrolled) == (True, 1, 10)


async def test_after_disabling_a_new_enrolment_gets_a_new_secret(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    status, _ = await _disable(client, enrolled, password=enrolled.user.password)
    assert status == 200
    status, _ = await _disable(client, enrolled, password=enrolled.user.password)
    assert status == 409  # not enabled any more
    again = await enrol(client, enrolled.user, enrolled.clock)
    assert again.secret != enrolled.secret
    assert not set(again.codes) & set(enrolled.codes)
