"""AMQP_URL may list several brokers (the nodes of one RabbitMQ cluster), comma-separated:
`amqp://u:p@rabbit1:5672/vh,amqp://u:p@rabbit2:5672/vh`. A connection goes to the first that
answers; when the connection to one is lost, the next connection tries the brokers after it,
each in turn. aio-pika's robust connection reconnects to its one URL only, so the failover is
built around it: with one broker the robust connection reconnects by itself, as always; with
several, a lost one is closed and the next `open` moves on.

A comma inside a password must be written `%2C` (as any reserved character of a URL)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractRobustConnection, TimeoutType

log = logging.getLogger(__name__)

SCHEMES = ("amqp", "amqps")


def broker_urls(value: str) -> list[str]:
    """AMQP_URL's brokers in order; ValueError (naming the entry without its password) when
    one is not an amqp:// or amqps:// URL with a host."""
    urls = [url.strip() for url in value.split(",")]
    for number, url in enumerate(urls, start=1):
        parts = urlsplit(url)
        address = broker_address(url)
        where = f"broker {number} ({address})" if address else f"broker {number}"
        if parts.scheme.lower() not in SCHEMES:
            raise ValueError(f"{where}: use amqp:// or amqps://, comma-separated")
        try:
            parts.port  # noqa: B018  # raises on a port that is not a number
        except ValueError:
            raise ValueError(f"{where}: the port is not a number") from None
        if not parts.hostname:
            raise ValueError(f"{where}: no host")
    return urls


def broker_address(url: str) -> str:
    """host:port of a broker URL, for the logs (never its credentials)."""
    return urlsplit(url.strip()).netloc.rpartition("@")[2]


def redacted_brokers(value: str) -> str:
    """AMQP_URL with every password hidden."""
    shown = []
    for url in value.split(","):
        parts = urlsplit(url.strip())
        if parts.password is not None:
            netloc = f"{parts.username or ''}:***@{broker_address(url)}"
            parts = parts._replace(netloc=netloc)
        shown.append(parts.geturl())
    return ",".join(shown)


class BrokerConnection:
    """One robust connection to the first of `urls` that answers, trying the others in turn."""

    def __init__(
        self,
        urls: list[str],
        *,
        timeout: float,
        reconnect_interval: float = 1.0,
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self.urls = urls
        self._timeout = timeout
        self._reconnect_interval = reconnect_interval
        self._on_lost = on_lost
        self._next = 0  # where the next `open` starts
        self.current: str | None = None  # host:port of the broker connected to
        self._connection: AbstractRobustConnection | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def open(self) -> AbstractRobustConnection:
        """Connect to the first broker that answers, starting after the last one lost; raises
        the last broker's error when none does."""
        await self.close()
        error: Exception = ConnectionError("no broker")
        for offset in range(len(self.urls)):
            index = (self._next + offset) % len(self.urls)
            url = self.urls[index]
            try:
                connection = await aio_pika.connect_robust(
                    url,
                    timeout=self._timeout,
                    reconnect_interval=self._reconnect_interval,
                    connection_class=_RobustConnection,
                )
            except Exception as exc:
                error = exc
                if len(self.urls) > 1:
                    log.info(
                        "broker %s unreachable, trying the next",
                        broker_address(url),
                        extra={"event": "broker_unreachable", "error": type(exc).__name__},
                    )
                continue
            self._next, self.current, self._connection = index, broker_address(url), connection
            if len(self.urls) > 1:
                connection.close_callbacks.add(self._closed)
            return connection
        raise error

    @property
    def connection(self) -> AbstractRobustConnection | None:
        """The connection `open` made, until it is closed or lost."""
        return self._connection

    def _closed(self, lost: AbstractConnection | None, exc: BaseException | None, /) -> None:
        """A connection closed: ours, lost (not closed by us), so move on to the next broker."""
        connection = self._connection
        if connection is None or lost is not connection:
            return
        self._connection, self.current = None, None
        self._next = (self._next + 1) % len(self.urls)
        log.warning(
            "broker connection lost; trying the other brokers",
            extra={"event": "broker_lost", "error": type(exc).__name__ if exc else None},
        )
        # Stop its own reconnecting (to the broker just lost) in the background.
        task = asyncio.get_running_loop().create_task(_quietly_close(connection))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        self._on_lost()

    async def close(self) -> None:
        connection, self._connection, self.current = self._connection, None, None
        if connection is not None:
            await _quietly_close(connection)
        if self._closing:
            await asyncio.wait(self._closing)


class _RobustConnection(aio_pika.RobustConnection):
    """aio-pika's robust connection, closed again when its first `connect` does not succeed.

    `connect` waits on a reconnect loop of its own task. Cancelled (a relay pass's deadline, a
    request ending, shutdown) while the broker has not answered yet, aio-pika leaves that loop
    dialling the broker forever, a connection nobody holds; and the loop catches the cancel a
    shutdown sends it while a dial is in progress, so `asyncio.run` waits for it forever."""

    # aio-pika's signature, `timeout` included
    async def connect(self, timeout: TimeoutType = None) -> None:  # noqa: ASYNC109
        try:
            await super().connect(timeout)
        except BaseException:
            await _quietly_close(self)  # stops the reconnect loop (and its dial)
            raise


async def _quietly_close(connection: AbstractConnection) -> None:
    try:
        await connection.close()
    except Exception as exc:  # already gone: nothing left to close
        log.debug("closing a lost broker connection: %s", type(exc).__name__)
