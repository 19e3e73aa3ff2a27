"""Publishes emails to the durable queue (`EMAIL_QUEUE`, default `email-transmitter`) that the
EcorRouge email-transmitter consumes (it renders and sends them); publisher confirms,
persistent. Only the events in `EMAIL_TRANSMITTER_EVENTS` are published. With several brokers
in AMQP_URL, the first that answers; after a lost connection, the others in turn (`brokers`)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable

import aio_pika
from aio_pika.abc import AbstractChannel
from aiormq.exceptions import ChannelPreconditionFailed
from pamqp.common import FieldTable

from quart_template.brokers import BrokerConnection, broker_urls
from quart_template.email.messages import ALL_EVENTS, OutgoingEmail

EMAIL_QUEUE = "email-transmitter"
QUEUE_TYPES = ("classic", "quorum")

log = logging.getLogger(__name__)


class EmailQueueMismatch(RuntimeError):
    """The queue exists with other arguments than ours (say classic, and EMAIL_QUEUE_TYPE is
    quorum): the broker refuses the declaration until one of them changes. Rows wait."""


def queue_body(email: OutgoingEmail) -> bytes:
    """Exactly Flask Template's body: {"event", "data", "to_emails"}."""
    body = {"event": email.event, "data": email.data, "to_emails": email.to}
    return json.dumps(body, separators=(",", ":")).encode()


def queue_arguments(queue_type: str) -> FieldTable | None:
    """Classic: no arguments, as Flask Template and the email-transmitter declare it."""
    if queue_type not in QUEUE_TYPES:
        raise ValueError(f"queue type {queue_type!r} is not one of {QUEUE_TYPES}")
    return {"x-queue-type": "quorum"} if queue_type == "quorum" else None


class RabbitMqBackend:
    """One robust connection, opened on first send (a down broker never stops start-up), and
    opened again (to the next broker) after a lost one."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        queue: str = EMAIL_QUEUE,
        queue_type: str = "classic",
        events: Iterable[str] = ALL_EVENTS,
    ) -> None:
        self._brokers = BrokerConnection(broker_urls(url), timeout=timeout)
        self._timeout = timeout
        self._queue = queue
        self._queue_type = queue_type
        self._arguments = queue_arguments(queue_type)
        self._events = frozenset(events)
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()
        self._mismatch_logged = False

    def sends(self, event: str) -> bool:
        """Whether this event goes to the queue (EMAIL_TRANSMITTER_EVENTS)."""
        return event in self._events

    async def _ready_channel(self) -> AbstractChannel:
        async with self._lock:
            connection = self._brokers.connection
            if connection is None or connection.is_closed:
                connection = await self._brokers.open()
                self._channel = None
            if self._channel is None or self._channel.is_closed:
                channel = await connection.channel(publisher_confirms=True)
                await self._declare(channel)
                self._channel = channel
            return self._channel

    async def _declare(self, channel: AbstractChannel) -> None:
        try:
            await channel.declare_queue(self._queue, durable=True, arguments=self._arguments)
        except ChannelPreconditionFailed as exc:
            problem = (
                f"queue {self._queue!r} exists with other arguments than EMAIL_QUEUE_TYPE="
                f"{self._queue_type} declares; emails wait until they match"
            )
            if not self._mismatch_logged:
                self._mismatch_logged = True
                log.error(problem, extra={"event": "email_queue_mismatch", "queue": self._queue})
            raise EmailQueueMismatch(problem) from exc

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
            self._channel = None
            await self._brokers.close()
