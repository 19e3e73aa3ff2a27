"""The rabbitmq email backend against the real broker: the durable `email-transmitter` queue
(EMAIL_QUEUE) gets the `{event, data, to_emails}` body, persistent, once the relay ran, for the
events EMAIL_TRANSMITTER_EVENTS lists; EMAIL_QUEUE_TYPE=quorum declares a quorum queue.
(TEST_AMQP_URL, else a local broker.)"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import aiormq.exceptions
import pytest
from aio_pika.abc import AbstractQueue

from quart_template.email.messages import (
    PASSWORD_CHANGED,
    RESEND_CONFIRMATION,
    RESET_PASSWORD,
    USER_CREATED,
    OutgoingEmail,
)
from quart_template.email.rabbitmq import EMAIL_QUEUE, EmailQueueMismatch, RabbitMqBackend
from quart_template.events.outbox import PENDING, SENT
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.email import LINK, email_row, record_email
from tests.support.network import free_port


@pytest.fixture
async def email_queue(amqp_url: str) -> AsyncIterator[AbstractQueue]:
    """The real queue, emptied before the test."""
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(EMAIL_QUEUE, durable=True)
    await queue.purge()
    yield queue
    await queue.purge()
    await connection.close()


@pytest.fixture
async def throwaway_queue(amqp_url: str) -> AsyncIterator[str]:
    """A queue name of this test's own, deleted afterwards whatever its type."""
    name = f"qt-test-email-{uuid.uuid4().hex[:12]}"
    yield name
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await channel.queue_delete(name)
    await connection.close()


async def _declared(amqp_url: str, name: str, **arguments: str) -> bool:
    """Whether the broker accepts declaring `name` durable with these arguments (it refuses
    arguments other than the existing queue's: PRECONDITION_FAILED)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        await channel.declare_queue(name, durable=True, arguments=arguments or None)
        return True
    except aiormq.exceptions.ChannelPreconditionFailed:
        return False
    finally:
        await connection.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], amqp_url: str) -> Settings:
    return make_settings(email_backend="rabbitmq", amqp_url_=amqp_url)


async def _take(queue: AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    message = await queue.get(timeout=5, fail=True)
    assert message is not None
    await message.ack()
    return message


async def test_relay_publishes_the_seed_body(rt: Runtime, email_queue: AbstractQueue) -> None:
    data: dict[str, Any] = {"recipient_name": "Ada", "password_reset_url": LINK}
    message_id = await record_email(rt, event=RESET_PASSWORD, to="ada@example.com", data=data)
    assert rt.relay is not None
    await rt.relay.drain()

    message = await _take(email_queue)
    assert json.loads(message.body) == {
        "event": "RESET_PASSWORD",
        "data": {"recipient_name": "Ada", "password_reset_url": LINK},
        "to_emails": ["ada@example.com"],
    }
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"
    assert message.message_id == message_id
    assert (await email_row(rt, message_id)).status == SENT
    assert await email_queue.get(fail=False) is None  # exactly one


async def test_broker_down_keeps_the_email_pending(
    make_settings: Callable[..., Settings],
) -> None:
    from quart_template.app import create_app

    down = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    app = create_app(make_settings(email_backend="rabbitmq", amqp_url_=down, mail_timeout=2.0))
    async with app.test_app():
        rt: Runtime = app.extensions["runtime"]
        message_id = await record_email(rt, event=RESET_PASSWORD, to="ada@example.com", data={})
        assert rt.relay is not None
        await rt.relay.drain(ready_timeout=0.1)
        row = await email_row(rt, message_id)
        assert row.status == PENDING


async def test_backend_reuses_its_connection(amqp_url: str, email_queue: AbstractQueue) -> None:
    from quart_template.email.messages import OutgoingEmail

    backend = RabbitMqBackend(amqp_url, timeout=5)
    try:
        for n in range(3):
            await backend.send(OutgoingEmail("PASSWORD_CHANGED", [f"u{n}@example.com"], {}))
        connection = backend._brokers.connection
        await backend.send(OutgoingEmail("PASSWORD_CHANGED", ["u3@example.com"], {}))
        assert backend._brokers.connection is connection
    finally:
        await backend.aclose()
    bodies = [json.loads((await _take(email_queue)).body) for _ in range(4)]
    assert [b["to_emails"] for b in bodies] == [[f"u{n}@example.com"] for n in range(4)]


async def test_an_email_recorded_by_an_earlier_build_goes_out_with_the_seed_keys(
    rt: Runtime, email_queue: AbstractQueue
) -> None:
    """A resend waiting in the outbox from before the upgrade: USER_CREATED, seed keys."""
    data = {"link": LINK, "first_name": "Ada"}
    await record_email(rt, event=RESEND_CONFIRMATION, to="ada@example.com", data=data)
    assert rt.relay is not None
    await rt.relay.drain()
    body = json.loads((await _take(email_queue)).body)
    assert body["event"] == USER_CREATED
    assert body["data"] == {"recipient_name": "Ada", "confirmation_link": LINK}


async def test_events_not_listed_are_skipped_and_count_as_delivered(
    make_settings: Callable[..., Settings],
    amqp_url: str,
    throwaway_queue: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from quart_template.app import create_app

    settings = make_settings(
        email_backend="rabbitmq",
        amqp_url_=amqp_url,
        email_queue=throwaway_queue,
        email_transmitter_events="USER_CREATED,RESET_PASSWORD",
    )
    app = create_app(settings)
    async with app.test_app():
        rt: Runtime = app.extensions["runtime"]
        skipped = await record_email(
            rt, event=PASSWORD_CHANGED, to="ada@example.com", data={"recipient_name": "Ada"}
        )
        data = {"recipient_name": "Ada", "confirmation_link": LINK}
        sent = await record_email(rt, event=USER_CREATED, to="ada@example.com", data=data)
        assert rt.relay is not None
        with caplog.at_level(logging.INFO, logger="quart_template.email"):
            await rt.relay.drain()
        for message_id in (skipped, sent):
            row = await email_row(rt, message_id)
            assert (row.status, row.payload) == (SENT, "{}")  # delivered: no body, no retry
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "email_skipped"]
    assert line.levelno == logging.INFO and line.email_event == PASSWORD_CHANGED  # type: ignore[attr-defined]
    assert not any(LINK in r.getMessage() for r in caplog.records)

    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(throwaway_queue, durable=True)
    body = json.loads((await _take(queue)).body)
    assert await queue.get(fail=False) is None  # the skipped one never reached the queue
    await connection.close()
    assert body["event"] == USER_CREATED


async def test_quorum_declares_a_quorum_queue(amqp_url: str, throwaway_queue: str) -> None:
    backend = RabbitMqBackend(amqp_url, timeout=5, queue=throwaway_queue, queue_type="quorum")
    try:
        await backend.send(OutgoingEmail(PASSWORD_CHANGED, ["ada@example.com"], {}))
    finally:
        await backend.aclose()
    # The broker says what the queue is by what it refuses: classic arguments no longer match.
    assert await _declared(amqp_url, throwaway_queue, **{"x-queue-type": "quorum"})
    assert not await _declared(amqp_url, throwaway_queue, **{"x-queue-type": "classic"})
    # rococo's consumer declares the queue durable with no arguments: refused as well (see
    # README, "EMAIL_QUEUE_TYPE=quorum"), unless the vhost's default queue type is quorum.
    assert not await _declared(amqp_url, throwaway_queue)
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.get_queue(throwaway_queue, ensure=False)
    message = await _take(queue)
    await connection.close()
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert json.loads(message.body)["event"] == PASSWORD_CHANGED


async def test_a_queue_of_the_other_type_is_named_and_the_email_waits(
    amqp_url: str, throwaway_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert await _declared(amqp_url, throwaway_queue)  # classic, as someone else declared it
    backend = RabbitMqBackend(amqp_url, timeout=5, queue=throwaway_queue, queue_type="quorum")
    email = OutgoingEmail(PASSWORD_CHANGED, ["ada@example.com"], {})
    try:
        with caplog.at_level(logging.ERROR, logger="quart_template.email"):
            for _ in range(2):
                with pytest.raises(EmailQueueMismatch):
                    await backend.send(email)
    finally:
        await backend.aclose()
    [line] = [r for r in caplog.records if r.name == "quart_template.email.rabbitmq"]
    assert "EMAIL_QUEUE_TYPE=quorum" in line.getMessage()  # said once, not per retry
