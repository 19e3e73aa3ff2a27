"""GET /recovery_codes shows the unused codes (or their number); POST replaces them."""

from __future__ import annotations

import re
from collections.abc import Callable

from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.app import create_app
from quart_template.events.outbox import OutboxMessage
from quart_template.mfa.models import RecoveryCode
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.factories import signed_in
from tests.support.mfa import Enrolled, FrozenClock, enrol, password_step


async def _codes(client: Client, enrolled: Enrolled) -> dict:
    response = await client.get("/recovery_codes", headers=enrolled.headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body: dict = await response.get_json()
    return body


async def test_get_shows_only_unused_codes(client: Client, enrolled: Enrolled) -> None:
    assert await _codes(client, enrolled) == {"data": enrolled.codes, "success": True}
    mfa_token = await password_step(client, enrolled)
    response = await client.post(
        "/verify_recovery_code",
        json={"mfa_token": mfa_token, "recovery_code": enrolled.codes[3]},
    )
    assert response.status_code == 200
    body = await _codes(client, enrolled)
    assert body == {"data": enrolled.codes[:3] + enrolled.codes[4:], "success": True}


async def test_post_regenerates_and_old_codes_die(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    response = await client.post("/recovery_codes", headers=enrolled.headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert set(body) == {"data", "success"} and body["success"] is True
    fresh = body["data"]
    assert len(fresh) == 10 and not set(fresh) & set(enrolled.codes)
    assert all(re.fullmatch(r"[0-9A-F]{32}", code) for code in fresh)
    assert (await _codes(client, enrolled))["data"] == fresh

    mfa_token = await password_step(client, enrolled)
    old = await client.post(
        "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]}
    )
    assert old.status_code == 401
    new = await client.post(
        "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": fresh[0].lower()}
    )
    assert new.status_code == 200
    async with rt.db() as db:
        actions = (
            await db.execute(select(OutboxMessage.action).where(OutboxMessage.kind == "email"))
        ).scalars()
        assert "RECOVERY_CODES_REGENERATED" in list(actions)


async def test_without_mfa_there_are_no_codes(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    response = await client.get("/recovery_codes", headers=user.headers)
    assert await response.get_json() == {"data": [], "success": True}
    response = await client.post("/recovery_codes", headers=user.headers)
    assert response.status_code == 400
    response = await client.get("/recovery_codes")
    assert response.status_code == 401


async def test_not_viewable_keeps_hashes_only(
    make_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    app = create_app(make_settings(recovery_codes_viewable=False))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        rt: Runtime = app.extensions["runtime"]
        enrolled = await enrol(client, await signed_in(rt), clock)
        assert len(enrolled.codes) == 10  # shown once, at confirmation
        body = await _codes(client, enrolled)
        assert body == {"success": True, "count": 10}
        async with rt.db() as db:
            copies = (await db.execute(select(RecoveryCode.code_encrypted))).scalars().all()
            assert copies and all(copy is None for copy in copies)
        response = await client.post("/recovery_codes", headers=enrolled.headers)
        fresh = (await response.get_json())["data"]
        assert len(fresh) == 10  # a new set is shown once, too
        mfa_token = await password_step(client, enrolled)
        response = await client.post(
            "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": fresh[9]}
        )
        assert response.status_code == 200
        assert (await _codes(client, enrolled))["count"] == 9


async def test_new_sets_count_against_the_email_limit_of_the_address(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    """Every set emails a notice: the sixth set within an hour is refused, the codes stay."""
    for _ in range(5):
        response = await client.post("/recovery_codes", headers=enrolled.headers)
        assert response.status_code == 200
    last = (await response.get_json())["data"]
    refused = await client.post("/recovery_codes", headers=enrolled.headers)
    assert refused.status_code == 429
    assert 3600 - 5 <= int(refused.headers["Retry-After"]) <= 3600
    assert (await _codes(client, enrolled))["data"] == last
