"""Event-test fixtures: the real RabbitMQ (TEST_AMQP_URL, else a local broker when one
answers), a unique exchange per test, a consumer bound to it, and the fake Pusher API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from tests.fakes.pusher_api import FakePusherAPI
from tests.support.events import Consumer


@pytest.fixture
def exchange_name() -> str:
    return f"qt-test-events-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def consumer(amqp_url: str, exchange_name: str) -> AsyncIterator[Consumer]:
    """Declares the exchange as the publisher does and binds a queue to every routing key."""
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="#")
    collected = Consumer()
    await queue.consume(collected.on_message)
    yield collected
    await exchange.delete()
    await connection.close()


@pytest.fixture
async def pusher_api() -> AsyncIterator[FakePusherAPI]:
    api = FakePusherAPI()
    await api.start()
    yield api
    await api.stop()
