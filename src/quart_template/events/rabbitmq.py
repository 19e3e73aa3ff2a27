"""RabbitMQ destination: a robust connection made in the background (a down broker never
blocks start-up), to the first of AMQP_URL's brokers that answers and, when it is lost, to the
others in turn (see `brokers`); publisher confirms, persistent messages on a durable topic
exchange."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractExchange, AbstractRobustChannel, AbstractRobustConnection
from pamqp.commands import Basic

from quart_template.brokers import BrokerConnection, broker_urls
from quart_template.events.outbox import Claimed

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 30.0
RECONNECT_SECONDS = 1.0
MAX_RETRY_SECONDS = 10.0


def _buffer_whole_batches(batch_size: int) -> None:
    """aiormq's connection queues at most 10 frames for its writer task: publishing more
    waits for the writer and, behind it, every other publish waits for the channel's lock,
    one turn of the event loop per message. Under API load a turn takes milliseconds, so a
    1,000-message batch took seconds (measured: 2 s instead of 0.2 s). With room for a whole
    batch, a batch is queued in one turn and written in the next. aiormq reads the size from
    this class attribute when a connection is made; it has no other way to set it."""
    if batch_size > aiormq.Connection.FRAME_BUFFER_SIZE:
        aiormq.Connection.FRAME_BUFFER_SIZE = batch_size


def routing_key(row: Claimed) -> str:
    """`<entity>.<action>`, e.g. `person.update`."""
    return f"{row.entity}.{row.action}"


def properties(row: Claimed) -> Basic.Properties:
    """Persistent JSON, with the stable message_id consumers de-duplicate by."""
    return Basic.Properties(
        content_type="application/json",
        delivery_mode=2,  # persistent
        message_id=row.message_id,
        timestamp=row.created_at,
        message_type=routing_key(row),
        app_id="quart-template",
    )


class RabbitPublisher:
    """The `rabbitmq` destination; `status()` feeds /readyz."""

    name = "rabbitmq"

    def __init__(
        self,
        url: str,
        exchange: str,
        *,
        batch_size: int = 1000,
    ) -> None:
        self.batch_size = batch_size
        self._brokers = BrokerConnection(
            broker_urls(url), timeout=5, reconnect_interval=RECONNECT_SECONDS, on_lost=self._lost
        )
        self._exchange_name = exchange
        self._on_ready: Callable[[], None] = lambda: None
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, on_ready: Callable[[], None]) -> None:
        """Connect in the background; the API serves meanwhile."""
        self._on_ready = on_ready
        if self._task is None:
            self._task = asyncio.create_task(self._connect(), name="rabbitmq-connect")

    async def _connect(self) -> None:
        delay = RECONNECT_SECONDS
        while True:
            try:
                await self._open()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._discard()
                log.warning(
                    "broker unreachable, retrying",
                    extra={"event": "broker_down", "error": type(exc).__name__},
                )
                await asyncio.sleep(delay)
                delay = min(MAX_RETRY_SECONDS, delay * 2)

    async def _open(self) -> None:
        _buffer_whole_batches(self.batch_size)
        connection = await self._brokers.open()
        self._connection = connection
        channel = await connection.channel(publisher_confirms=True)
        self._exchange = await channel.declare_exchange(
            self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._channel = channel
        connection.reconnect_callbacks.add(self._reconnected)
        log.info("broker connected", extra={"event": "broker_up", "broker": self._brokers.current})
        self._on_ready()

    def _reconnected(self, *_: Any) -> None:
        log.info("broker reconnected", extra={"event": "broker_up"})
        self._on_ready()

    def _lost(self) -> None:
        """One of several brokers is gone: connect to the others (rows wait meanwhile)."""
        self._connection = None
        self._channel = self._exchange = None
        if self._task is not None and self._task.done():
            self._task = asyncio.create_task(self._connect(), name="rabbitmq-connect")

    async def _discard(self) -> None:
        self._connection = None
        self._channel = self._exchange = None
        await self._brokers.close()

    def available(self) -> bool:
        connection, channel = self._connection, self._channel
        return (
            channel is not None
            and connection is not None
            and connection.connected.is_set()
            and not channel.is_closed
        )

    async def wait_available(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while not self.available():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def status(self) -> str:
        return "ok" if self.available() else "down"

    async def deliver(self, rows: Sequence[Claimed]) -> list[BaseException | None]:
        """Publish the rows together (confirms pipelined) and wait for every confirm.

        aiormq's channel directly, without waiting for each frame's socket drain: the
        confirms are what count, and this is several times cheaper per message."""
        try:
            if self._channel is None:
                raise ConnectionError("broker not connected")
            channel = await self._channel.get_underlay_channel()
        except Exception as exc:
            return [exc] * len(rows)
        tasks = [
            asyncio.ensure_future(
                channel.basic_publish(
                    row.payload.encode(),
                    exchange=self._exchange_name,
                    routing_key=routing_key(row),
                    properties=properties(row),
                    wait=False,  # type: ignore[call-arg]  # aiormq's Channel has it
                )
            )
            for row in rows
        ]
        # One deadline for the batch (a per-message timeout costs more than the publish);
        # what is confirmed by then counts, the rest is retried.
        _, late = await asyncio.wait(tasks, timeout=PUBLISH_TIMEOUT_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        results = [
            TimeoutError("no confirm in time") if task in late else task.exception()
            for task in tasks
        ]
        return [result if isinstance(result, BaseException) else None for result in results]

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._discard()
