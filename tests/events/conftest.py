"""Event-test fixtures: the real RabbitMQ (TEST_AMQP_URL, else a local broker when one
answers), a unique exchange per test, a consumer bound to it, and the fake Pusher API."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest

from tests.fakes.pusher_api import FakePusherAPI


def closed_port() -> int:
    """A loopback port nobody listens on (a broker that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    routing_key: str
    message_id: str | None
    body: dict[str, Any]
    persistent: bool
    content_type: str | None


@dataclass
class Consumer:
    """A temporary queue bound to the test's exchange, collecting every event."""

    messages: list[Received] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            received = Received(
                routing_key=message.routing_key or "",
                message_id=message.message_id,
                body=json.loads(message.body),
                persistent=message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
                content_type=message.content_type,
            )
            async with self._arrived:
                self.messages.append(received)
                self._arrived.notify_all()

    async def wait_for(self, count: int, within: float = 15.0) -> list[Received]:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.messages) >= count), within
            )
        return self.messages

    async def settle(self, quiet: float = 0.3) -> list[Received]:
        """Everything that arrives until nothing more does for `quiet` seconds (duplicates)."""
        while True:
            count = len(self.messages)
            try:
                await self.wait_for(count + 1, within=quiet)
            except TimeoutError:
                return self.messages


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


def pusher_settings(api: FakePusherAPI) -> dict[str, Any]:
    """Settings overrides pointing the app at the fake Pusher API."""
    return {
        "pusher_app_id": api.app_id,
        "pusher_api_key": api.key,
        "pusher_api_secret": api.secret,
        "pusher_host": "127.0.0.1",
        "pusher_port": api.port,
        "pusher_ssl": False,
    }
