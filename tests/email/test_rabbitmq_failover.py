"""The rabbitmq email backend with several brokers in AMQP_URL: it sends through the first that
answers and, after losing the connection to one, through the next; each email is queued once.
(The real RabbitMQ, behind a loopback proxy that can be cut.)"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue

from quart_template.brokers import broker_address
from quart_template.email.messages import PASSWORD_CHANGED, OutgoingEmail
from quart_template.email.rabbitmq import RabbitMqBackend
from tests.fakes.tcp_proxy import TcpProxy
from tests.support.network import free_port, via_port


@pytest.fixture
async def queue(amqp_url: str) -> AsyncIterator[AbstractQueue]:
    """A queue of this test's own, deleted afterwards."""
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    declared = await channel.declare_queue(f"qt-test-email-{uuid.uuid4().hex[:12]}", durable=True)
    yield declared
    await declared.delete(if_unused=False, if_empty=False)
    await connection.close()


def email(n: int) -> OutgoingEmail:
    return OutgoingEmail(PASSWORD_CHANGED, [f"u{n}@example.com"], {}, message_id=f"m-{n}")


async def queued(queue: AbstractQueue) -> list[str]:
    """The recipients of every email in the queue, taken out of it."""
    taken = []
    while (message := await queue.get(fail=False)) is not None:
        await message.ack()
        taken.append(json.loads(message.body)["to_emails"][0])
    return taken


async def test_the_first_broker_that_answers_sends(amqp_url: str, queue: AbstractQueue) -> None:
    brokers = f"{via_port(amqp_url, free_port())},{amqp_url}"
    backend = RabbitMqBackend(brokers, timeout=5, queue=queue.name)
    try:
        await backend.send(email(0))
    finally:
        await backend.aclose()
    assert await queued(queue) == ["u0@example.com"]


async def test_after_a_lost_broker_the_next_email_goes_through_the_next_one(
    amqp_url: str, queue: AbstractQueue
) -> None:
    parts = urlsplit(amqp_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    backend = RabbitMqBackend(
        f"{via_port(amqp_url, proxy.port)},{amqp_url}", timeout=5, queue=queue.name
    )
    try:
        await backend.send(email(0))
        assert backend._brokers.current == f"127.0.0.1:{proxy.port}"
        await proxy.cut()
        for _ in range(500):  # the client notices the lost connection within a moment
            if backend._brokers.current is None:
                break
            await asyncio.sleep(0.01)
        await backend.send(email(1))
        assert backend._brokers.current == broker_address(amqp_url)
    finally:
        await backend.aclose()
        await proxy.cut()
    assert await queued(queue) == ["u0@example.com", "u1@example.com"]
