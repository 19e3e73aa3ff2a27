"""Entity events reach RabbitMQ with the documented routing keys and bodies, and nothing
secret; a down broker never fails a request, and the events go out once it is back."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest

from quart_template.db import utcnow
from quart_template.events import relay as relay_module
from quart_template.events.outbox import PENDING, Claimed
from quart_template.events.rabbitmq import RabbitPublisher
from quart_template.mfa.models import OtpMethod, RecoveryCode
from quart_template.sessions.models import AuthSession
from quart_template.settings import Settings
from tests.fakes.tcp_proxy import TcpProxy
from tests.support.events import Consumer, outbox_rows, serving, soft_delete_login_methods
from tests.support.factories import signed_in
from tests.support.network import free_port

BODY_KEYS = {"entity", "action", "entity_id", "version", "changed_on", "data"}
SECRET_WORDS = ("password", "secret", "token", "hash", "code_encrypted", "otp")


async def make_every_change(rt) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Create and update one of each entity; returns the secrets those rows hold."""
    who = await signed_in(rt, email="events@example.com")
    person = who.person
    async with rt.db() as db, db.begin():
        person = await db.get_one(type(person), person.entity_id)
        person.first_name = "Augusta"
        otp = OtpMethod(person_id=person.entity_id, secret_encrypted="OTP-SECRET-CIPHERTEXT")
        code = RecoveryCode(
            person_id=person.entity_id, code_hash="c0de" * 16, code_encrypted="CODE-CIPHERTEXT"
        )
        db.add_all([otp, code])
    async with rt.db() as db, db.begin():
        (await db.get_one(OtpMethod, otp.entity_id)).confirmed = True
        (await db.get_one(RecoveryCode, code.entity_id)).used_at = utcnow()
        session = (await db.execute(AuthSession.__table__.select())).first()
        assert session is not None
        row = await db.get_one(AuthSession, session.entity_id)
        row.revoked_at, row.active = utcnow(), False
    await soft_delete_login_methods(rt, person.entity_id)
    return {
        "token": who.token,
        "token_hash": session.token_hash,
        "otp": "OTP-SECRET-CIPHERTEXT",
        "code": "CODE-CIPHERTEXT",
        "code_hash": "c0de" * 16,
    }


async def test_every_entity_and_action_is_published_as_documented(
    make_settings: Callable[..., Settings], amqp_url: str, exchange_name: str, consumer: Consumer
) -> None:
    settings = make_settings(amqp_url_=amqp_url, mq_exchange=exchange_name)
    async with serving(settings) as (_, rt):
        secrets = await make_every_change(rt)
        await rt.relay.drain()  # type: ignore[union-attr]
        expected = {row.message_id: row for row in await outbox_rows(rt, "rabbitmq")}
        messages = await consumer.wait_for(len(expected))

    keys = {m.routing_key for m in messages}
    assert keys == {
        "person.create",
        "person.update",
        "login_method.create",
        "login_method.update",
        "otp_method.create",
        "otp_method.update",
        "recovery_code.create",
        "recovery_code.update",
        "session.create",
        "session.update",
    }
    assert {m.message_id for m in messages} == set(expected)
    for message in messages:
        row = expected[message.message_id or ""]
        assert set(message.body) == BODY_KEYS
        assert message.routing_key == f"{message.body['entity']}.{message.body['action']}"
        assert (message.body["entity_id"], message.body["version"]) == (row.entity_id, row.version)
        assert message.body["data"]["entity_id"] == row.entity_id
        assert message.persistent and message.content_type == "application/json"
        text = str(message.body)
        for secret in secrets.values():
            assert secret not in text
        for key in message.body["data"]:
            assert not any(word in key for word in SECRET_WORDS), key
    deleted = [m for m in messages if m.routing_key == "login_method.update"]
    assert deleted[0].body["data"]["active"] is False


async def test_readyz_reports_the_broker_and_the_backlog(
    make_settings: Callable[..., Settings], amqp_url: str, exchange_name: str, consumer: Consumer
) -> None:
    settings = make_settings(amqp_url_=amqp_url, mq_exchange=exchange_name)
    async with serving(settings) as (app, rt):
        assert await rt.relay.destinations["rabbitmq"].wait_available(5)  # type: ignore[union-attr]
        body = await (await app.test_client().get("/readyz")).get_json()
        assert body == {"status": "ok", "database": "ok", "broker": "ok"}
        metrics = await (await app.test_client().get("/metrics.json")).get_json()
        assert metrics["outbox"]["pending"] == 0


async def test_broker_down_requests_succeed_and_events_follow_once_it_is_back(
    make_settings: Callable[..., Settings], amqp_url: str, exchange_name: str, consumer: Consumer
) -> None:
    down = make_settings(
        amqp_url_=f"amqp://guest:guest@127.0.0.1:{free_port()}/", mq_exchange=exchange_name
    )
    async with serving(down) as (app, rt):
        client = app.test_client()
        ids = []
        for n in range(5):
            response = await client.post(f"/test/people/{n}")
            assert response.status_code == 200
            ids.append((await response.get_json())["entity_id"])
        for name in ("B", "C", "D"):
            for entity_id in ids:
                assert (
                    await client.post(f"/test/people/{entity_id}/rename/{name}")
                ).status_code == 200
        ready = await client.get("/readyz")
        body = await ready.get_json()
        assert ready.status_code == 200
        assert body == {"status": "degraded", "database": "ok", "broker": "down"}
        outbox = (await (await client.get("/metrics.json")).get_json())["outbox"]
        assert outbox["pending"] == 25
        assert outbox["oldest_pending_age_seconds"] >= 0
    # The app stopped with the broker still down: every row is still pending.
    async with serving(down) as (_, rt):
        rows = await outbox_rows(rt, "rabbitmq")
        assert len(rows) == 25 and {row.status for row in rows} == {PENDING}

    up = make_settings(amqp_url_=amqp_url, mq_exchange=exchange_name)
    async with serving(up) as (_, rt):
        await rt.relay.drain()  # type: ignore[union-attr]
        messages = await consumer.wait_for(25)
        messages = await consumer.settle()
        assert {row.status for row in await outbox_rows(rt, "rabbitmq")} == {"sent"}

    assert len(messages) == 25
    assert len({m.message_id for m in messages}) == 25  # exactly once per message_id
    versions: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        versions[message.body["entity_id"]].append(message.body["version"])
    for entity_id in ids:
        assert versions[entity_id] == [1, 2, 3, 4]


async def test_in_app_relay_delivers_without_being_asked(
    make_settings: Callable[..., Settings], amqp_url: str, exchange_name: str, consumer: Consumer
) -> None:
    settings = make_settings(amqp_url_=amqp_url, mq_exchange=exchange_name)
    async with serving(settings) as (app, _):
        await app.test_client().post("/test/people/1")
        messages = await consumer.wait_for(2)  # person.create, login_method.create
        assert {m.routing_key for m in messages} == {"person.create", "login_method.create"}


async def test_broker_lost_mid_run_rows_wait_and_follow_on_reconnect(
    make_settings: Callable[..., Settings], amqp_url: str, exchange_name: str, consumer: Consumer
) -> None:
    parts = urlsplit(amqp_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    via_proxy = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}")
    settings = make_settings(amqp_url_=urlunsplit(via_proxy), mq_exchange=exchange_name)
    async with serving(settings) as (app, rt):
        client = app.test_client()
        assert (await client.post("/test/people/0")).status_code == 200
        await consumer.wait_for(2)
        await rt.relay.drain()  # type: ignore[union-attr]  # the confirms are in: rows sent

        await proxy.cut()
        for _ in range(200):  # the client notices the lost connection within a moment
            if (await (await client.get("/readyz")).get_json())["broker"] == "down":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("/readyz never reported the broker down")
        ids = []
        for n in range(1, 4):
            response = await client.post(f"/test/people/{n}")
            assert response.status_code == 200
            ids.append((await response.get_json())["entity_id"])
        for entity_id in ids:
            assert (await client.post(f"/test/people/{entity_id}/rename/X")).status_code == 200
        pending = [r for r in await outbox_rows(rt, "rabbitmq") if r.status == PENDING]
        assert len(pending) == 9

        await proxy.restore()
        messages = await consumer.wait_for(11, within=30)
        messages = await consumer.settle()
    await proxy.cut()
    assert len({m.message_id for m in messages}) == 11
    versions: dict[str, list[int]] = defaultdict(list)
    seen: set[str | None] = set()
    for message in messages:
        if message.message_id not in seen:
            seen.add(message.message_id)
            versions[message.body["entity_id"]].append(message.body["version"])
    for entity_id in ids:
        assert versions[entity_id] == [1, 2]


async def test_without_a_broker_configured_readyz_says_off(
    make_settings: Callable[..., Settings],
) -> None:
    async with serving(make_settings()) as (app, rt):
        assert "rabbitmq" not in rt.relay.destinations  # type: ignore[union-attr]
        body = await (await app.test_client().get("/readyz")).get_json()
        assert body == {"status": "ok", "database": "ok", "broker": "off"}
        metrics = await (await app.test_client().get("/metrics.json")).get_json()
        assert metrics["outbox"] == {
            "pending": 0,
            "oldest_pending_age_seconds": None,
            "dead": 0,
            "destinations": {},
        }


async def test_a_backlog_drains_in_paced_slices_while_the_api_answers_every_request(
    make_settings: Callable[..., Settings],
    amqp_url: str,
    exchange_name: str,
    consumer: Consumer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claims: list[int] = []
    claim_rows = relay_module.claim_rows

    async def noted(db: Any, destination: str, limit: int) -> Any:
        claim = await claim_rows(db, destination, limit)
        if destination == "rabbitmq" and claim.rows:
            claims.append(len(claim.rows))
        return claim

    monkeypatch.setattr(relay_module, "claim_rows", noted)
    parts = urlsplit(amqp_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    await proxy.cut()  # an outage from the start: the backlog builds up
    via_proxy = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}")
    # 250 events/s while busy: slices of 50 rows, the 80-row backlog in at least two.
    settings = make_settings(
        amqp_url_=urlunsplit(via_proxy), mq_exchange=exchange_name, relay_busy_rate=250
    )
    try:
        async with serving(settings) as (app, rt):
            client = app.test_client()
            for n in range(40):  # person.create + login_method.create each
                assert (await client.post(f"/test/people/{n}")).status_code == 200
            answers: list[int] = []

            async def keep_asking() -> None:
                while len(consumer.messages) < 80:
                    answers.append((await client.get("/healthz")).status_code)

            asking = asyncio.create_task(keep_asking())
            await asyncio.sleep(0)  # the first request is on its way: the API is busy
            await proxy.restore()
            await consumer.wait_for(80, within=30)
            await asyncio.wait_for(asking, 10)
            await rt.relay.drain()  # type: ignore[union-attr]  # the last settle is written
            assert {r.status for r in await outbox_rows(rt, "rabbitmq")} == {"sent"}
    finally:
        await proxy.cut()
    assert answers and set(answers) == {200}
    assert len(claims) >= 2 and max(claims) <= 50  # paced: never the whole backlog at once
    messages = await consumer.settle()
    assert len({m.message_id for m in messages}) == 80


def claimed(n: int) -> Claimed:
    """An entity event as the relay hands it to the publisher: its own entity, version n."""
    from datetime import UTC, datetime

    message_id = f"m-{n:04d}"
    body = {"entity": "person", "action": "update", "entity_id": message_id}
    return Claimed(
        id=n,
        message_id=message_id,
        destination="rabbitmq",
        kind="entity",
        entity="person",
        action="update",
        entity_id=message_id,
        version=n,
        owner_id=None,
        payload=json.dumps(body | {"n": n, "pad": "x" * 200}),
        attempts=0,
        created_at=datetime.now(UTC),
    )


@pytest.mark.parametrize(
    ("message_id", "entity", "action", "created_at", "channel", "size"),
    [
        ("m-1", "person", "update", "2026-12-02T16:59:01.123456+00:00", 1, 300),
        ("a" * 32, "session", "create", "2026-12-02T16:59:01+00:00", 7, 0),
        ("é" * 10, "otp_method", "delete", "1999-01-01T00:00:00", 65535, 2**40),  # naive: UTC
    ],
)
def test_the_content_header_is_the_one_pamqp_marshals(
    message_id: str, entity: str, action: str, created_at: str, channel: int, size: int
) -> None:
    from datetime import datetime

    from pamqp.frame import marshal
    from pamqp.header import ContentHeader

    from quart_template.events.rabbitmq import content_header, properties

    row = replace(
        claimed(1),
        message_id=message_id,
        entity=entity,
        action=action,
        created_at=datetime.fromisoformat(created_at),
    )
    expected = marshal(ContentHeader(0, size, properties(row)), channel)
    assert content_header(row, size, channel) == expected


def test_a_message_id_too_long_for_amqp_is_refused_as_pamqp_refuses_it() -> None:
    from quart_template.events.rabbitmq import content_header

    with pytest.raises(TypeError, match="255"):
        content_header(replace(claimed(1), message_id="x" * 300), 10, 1)


@pytest.fixture
async def publisher(amqp_url: str, exchange_name: str) -> AsyncIterator[RabbitPublisher]:
    publisher = RabbitPublisher(amqp_url, exchange_name)
    ready = asyncio.Event()
    publisher.start(on_ready=ready.set)
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield publisher
    finally:
        await publisher.aclose()


async def test_a_wave_goes_out_whole_in_order_with_its_properties(
    publisher: RabbitPublisher, consumer: Consumer
) -> None:
    rows = [claimed(n) for n in range(600)]
    assert await publisher.deliver(rows) == [None] * 600
    messages = await consumer.wait_for(600)
    assert [m.message_id for m in messages] == [row.message_id for row in rows]
    assert [m.body["n"] for m in messages] == list(range(600))
    assert {(m.routing_key, m.persistent, m.content_type) for m in messages} == {
        ("person.update", True, "application/json")
    }


async def test_each_row_gets_its_own_confirm_when_the_broker_refuses_some(
    amqp_url: str, exchange_name: str, publisher: RabbitPublisher
) -> None:
    """A bound queue that is full and refuses more (`x-overflow: reject-publish`) makes the
    broker nack: the rows it refused are retried, the others count as delivered, and the
    confirms of later waves still belong to their own rows."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(exchange_name)
        queue = await channel.declare_queue(
            exclusive=True, arguments={"x-max-length": 2, "x-overflow": "reject-publish"}
        )
        await queue.bind(exchange, routing_key="#")
        first = await publisher.deliver([claimed(n) for n in range(3)])
        assert [type(result).__name__ for result in first] == [
            "NoneType",
            "NoneType",
            "DeliveryError",
        ]
        assert all(isinstance(r, Exception) for r in await publisher.deliver([claimed(3)]))
        await queue.purge()
        again = await publisher.deliver([claimed(n) for n in range(4, 7)])
        assert [r is None for r in again] == [True, True, False]
    finally:
        await connection.close()


async def test_a_wave_on_a_closed_channel_fails_every_row_and_the_next_one_goes(
    publisher: RabbitPublisher, consumer: Consumer
) -> None:
    """The channel closed under the publisher (here by us; a broker does so on an error): the
    wave's rows fail, and the robust channel reopens for the next wave."""
    assert publisher._channel is not None
    underlay = await publisher._channel.get_underlay_channel()
    await underlay.close()
    results = await publisher.deliver([claimed(0)])
    assert results and isinstance(results[0], Exception)
    for _ in range(100):  # aio-pika reopens the channel in the background
        if await publisher.deliver([claimed(1)]) == [None]:
            break
        await asyncio.sleep(0.05)
    messages = await consumer.settle()
    assert "m-0001" in [m.message_id for m in messages]
