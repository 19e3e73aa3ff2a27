"""Publishes emails to the durable `email-transmitter` queue that the EcorRouge
email-transmitter consumes (it renders and sends them); publisher confirms, persistent."""

from __future__ import annotations

import asyncio
import json

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from quart_template.email.messages import OutgoingEmail

EMAIL_QUEUE = "email-transmitter"


def queue_body(email: OutgoingEmail) -> bytes:
    """Exactly Flask Template's body: {"event", "data", "to_emails"}."""
    body = {"event": email.event, "data": email.data, "to_emails": email.to}
    return json.dumps(body, separators=(",", ":")).encode()


class RabbitMqBackend:
    """One robust connection, opened on first send (a down broker never stops start-up)."""

    def __init__(self, url: str, *, timeout: float, queue: str = EMAIL_QUEUE) -> None:
        self._url = url
        self._timeout = timeout
        self._queue = queue
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()

    async def _ready_channel(self) -> AbstractChannel:
        async with self._lock:
            if self._connection is None or self._connection.is_closed:
                self._connection = await aio_pika.connect_robust(self._url, timeout=self._timeout)
                self._channel = None
            if self._channel is None or self._channel.is_closed:
                channel = await self._connection.channel(publisher_confirms=True)
                await channel.declare_queue(self._queue, durable=True)
                self._channel = channel
            return self._channel

    async def send(self, email: OutgoingEmail) -> None:
        channel = await self._ready_channel()
        message = aio_pika.Message(
            queue_body(email),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=email.message_id,
        )
        # Returns once the broker confirmed (or raises): the relay marks the row sent after.
        await channel.default_exchange.publish(
            message, routing_key=self._queue, mandatory=True, timeout=self._timeout
        )

    async def aclose(self) -> None:
        async with self._lock:
            connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and not connection.is_closed:
            await connection.close()
