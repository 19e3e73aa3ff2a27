"""Pusher delivery through a local fake of its HTTP API (signatures checked): the owner's
private channel gets the public form; one destination failing never holds back another."""

from __future__ import annotations

from collections.abc import Callable

from quart_template.events.outbox import PENDING
from quart_template.settings import Settings
from tests.fakes.pusher_api import FakePusherAPI
from tests.support.events import Consumer, outbox_rows, pusher_settings, serving
from tests.support.factories import create_person


async def test_events_go_to_the_owners_private_channels(
    make_settings: Callable[..., Settings], pusher_api: FakePusherAPI
) -> None:
    async with serving(make_settings(**pusher_settings(pusher_api))) as (_, rt):
        person = await create_person(rt)
        await rt.relay.drain()  # type: ignore[union-attr]
        events = await pusher_api.wait_for(2)

    assert pusher_api.rejected == []
    by_channel = {event["channel"]: event for event in events}
    assert set(by_channel) == {
        f"private-person-{person.entity_id}",
        f"private-login_method-{person.entity_id}",
    }
    event = by_channel[f"private-person-{person.entity_id}"]
    assert event["name"] == "create"
    assert event["data"] == person.public_dict()
    assert "password_hash" not in str(events)


async def test_public_channels_carry_only_id_and_version(
    make_settings: Callable[..., Settings], pusher_api: FakePusherAPI
) -> None:
    settings = make_settings(**pusher_settings(pusher_api), pusher_public_channels=True)
    async with serving(settings) as (_, rt):
        person = await create_person(rt, with_signup_method=False)
        await rt.relay.drain()  # type: ignore[union-attr]
        events = await pusher_api.wait_for(2)

    public = [event for event in events if event["channel"] == "person"]
    assert public == [
        {
            "channel": "person",
            "name": "create",
            "data": {"entity_id": person.entity_id, "version": 1},
        }
    ]


async def test_pusher_down_keeps_rows_pending_and_rabbitmq_unaffected(
    make_settings: Callable[..., Settings],
    pusher_api: FakePusherAPI,
    amqp_url: str,
    exchange_name: str,
    consumer: Consumer,
) -> None:
    pusher_api.fail_with = 503
    settings = make_settings(
        **pusher_settings(pusher_api), amqp_url_=amqp_url, mq_exchange=exchange_name
    )
    async with serving(settings) as (_, rt):
        await create_person(rt)
        await rt.relay.drain()  # type: ignore[union-attr]
        assert len(await consumer.wait_for(2)) == 2
        rows = await outbox_rows(rt, "pusher")
        assert {row.status for row in rows} == {PENDING}
        assert all(row.attempts == 1 and row.last_error for row in rows)
        assert all(row.next_attempt_at > row.created_at for row in rows)

        pusher_api.fail_with = None  # Pusher is back; the rows retry after their backoff
        async with rt.db() as db, db.begin():
            for row in rows:
                merged = await db.merge(row)
                merged.next_attempt_at = merged.created_at
        await rt.relay.drain()  # type: ignore[union-attr]
        assert len(await pusher_api.wait_for(2)) == 2


def test_an_event_over_pusher_limit_is_refused_for_good() -> None:
    import json

    import pytest

    from quart_template.events.destinations import PermanentDeliveryError
    from quart_template.events.outbox import OutboxMessage
    from quart_template.events.pusher import pusher_events

    def row(data: dict[str, object]) -> OutboxMessage:
        payload = json.dumps({"data": data})
        return OutboxMessage(
            entity="person",
            action="update",
            entity_id="e" * 32,
            version=2,
            owner_id="o" * 32,
            payload=payload,
        )

    small = pusher_events(row({"first_name": "Ada"}), public_channels=False)
    assert small == [
        {"channel": f"private-person-{'o' * 32}", "name": "update", "data": '{"first_name":"Ada"}'}
    ]
    with pytest.raises(PermanentDeliveryError):
        pusher_events(row({"first_name": "x" * 11_000}), public_channels=False)
