"""The rabbitmq email backend against the real broker: the durable `email-transmitter` queue
gets the `{event, data, to_emails}` body, persistent, once the relay ran. (TEST_AMQP_URL, else
a local broker.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue

from quart_template.email.messages import RESET_PASSWORD
from quart_template.email.rabbitmq import EMAIL_QUEUE, RabbitMqBackend
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
def settings(make_settings: Callable[..., Settings], amqp_url: str) -> Settings:
    return make_settings(email_backend="rabbitmq", amqp_url_=amqp_url)


async def _take(queue: AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    message = await queue.get(timeout=5, fail=True)
    assert message is not None
    await message.ack()
    return message


async def test_relay_publishes_the_seed_body(rt: Runtime, email_queue: AbstractQueue) -> None:
    data: dict[str, Any] = {"link": LINK, "first_name": "Ada"}
    message_id = await record_email(rt, event=RESET_PASSWORD, to="ada@example.com", data=data)
    assert rt.relay is not None
    await rt.relay.drain()

    message = await _take(email_queue)
    assert json.loads(message.body) == {
        "event": "RESET_PASSWORD",
        "data": {"link": LINK, "first_name": "Ada"},
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
        connection = backend._connection
        await backend.send(OutgoingEmail("PASSWORD_CHANGED", ["u3@example.com"], {}))
        assert backend._connection is connection
    finally:
        await backend.aclose()
    bodies = [json.loads((await _take(email_queue)).body) for _ in range(4)]
    assert [b["to_emails"] for b in bodies] == [[f"u{n}@example.com"] for n in range(4)]
