"""What the relay delivers to: RabbitMQ, Pusher, email — each behind the same small interface."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from quart_template.events.outbox import Claimed


class NotAttempted(Exception):
    """The destination did not try this row (it gave up on the batch): no attempt is counted."""


class PermanentDeliveryError(Exception):
    """The destination will never accept this row (e.g. too large): it is set aside as dead."""


class Destination(Protocol):
    """One delivery target with its own state; `deliver` gets rows of distinct entities."""

    name: str
    batch_size: int

    def start(self, on_ready: Callable[[], None]) -> None:
        """Begin connecting in the background; `on_ready` is called whenever it (re)connects."""
        ...

    def available(self) -> bool:
        """False while the destination is known to be unreachable: rows wait, untouched."""
        ...

    async def wait_available(self, within: float) -> bool:
        """Wait up to `within` seconds for the destination to become available."""
        ...

    async def deliver(self, rows: Sequence[Claimed]) -> list[BaseException | None]:
        """Deliver the rows; one result per row: None when confirmed, else the error."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class SenderDestination:
    """Adapts a one-message sender (the email backends) with bounded concurrency."""

    def __init__(
        self,
        name: str,
        sender: Callable[[Claimed], Awaitable[None]],
        *,
        concurrency: int = 8,
        batch_size: int = 50,
    ) -> None:
        self.name = name
        self.batch_size = batch_size
        self._sender = sender
        self._concurrency = concurrency

    def start(self, on_ready: Callable[[], None]) -> None:
        """Nothing to connect: the sender opens what it needs per message."""

    def available(self) -> bool:
        return True

    async def wait_available(self, within: float) -> bool:
        return True

    async def deliver(self, rows: Sequence[Claimed]) -> list[BaseException | None]:
        limit = asyncio.Semaphore(self._concurrency)

        async def one(row: Claimed) -> None:
            async with limit:
                await self._sender(row)

        results = await asyncio.gather(*(one(row) for row in rows), return_exceptions=True)
        return [result if isinstance(result, BaseException) else None for result in results]

    async def aclose(self) -> None:
        close = getattr(self._sender, "aclose", None)
        if close is not None:
            await close()
