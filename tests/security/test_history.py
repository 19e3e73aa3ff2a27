"""A person's security history: their own events only, newest first, at most 50, no secrets."""

from __future__ import annotations

from datetime import timedelta

from quart.typing import TestClientProtocol as Client

from quart_template.db import utcnow
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.models import SecurityEvent
from quart_template.security.service import record_alone
from tests.support.factories import signed_in

CLIENT = ClientInfo("198.51.100.4", "history-test/1.0")


async def test_the_history_is_the_callers_own_newest_first_and_capped(
    client: Client, rt: Runtime
) -> None:
    ada = await signed_in(rt, email="ada@example.com")
    bob = await signed_in(rt, email="bob@example.com")
    await record_alone(rt, "login_failed", person_id=bob.person.entity_id, client=CLIENT)
    now = utcnow()
    async with rt.db() as db, db.begin():
        for n in range(55):
            db.add(
                SecurityEvent(
                    person_id=ada.person.entity_id,
                    type=f"event_{n}",
                    at=now - timedelta(seconds=60 - n),
                    ip=CLIENT.ip,
                    user_agent=CLIENT.user_agent,
                )
            )
    response = await client.get("/security_events", headers=ada.headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    events = (await response.get_json())["events"]
    assert len(events) == 50
    assert events[0]["type"] == "event_54" and events[-1]["type"] == "event_5"
    assert events[0] == {
        "type": "event_54",
        "at": int((now - timedelta(seconds=6)).timestamp()),
        "ip": "198.51.100.4",
        "user_agent": "history-test/1.0",
    }
    bobs = (await (await client.get("/security_events", headers=bob.headers)).get_json())["events"]
    assert [event["type"] for event in bobs] == ["login_failed"]


async def test_the_history_needs_a_token(client: Client) -> None:
    assert (await client.get("/security_events")).status_code == 401
