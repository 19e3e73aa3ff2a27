"""What the app holds between startup and shutdown, one typed field per collaborator. Built and
closed by `lifecycle` (for the app and for `quart-template relay` alike)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from quart import current_app
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from quart_template.ratelimit import CredentialLimiter
from quart_template.settings import Settings

if TYPE_CHECKING:
    import pusher

    from quart_template.events.relay import OutboxRelay
    from quart_template.housekeeping.task import Housekeeper
    from quart_template.replica import Replica
    from quart_template.sessions.bus import RevocationBus
    from quart_template.sessions.cache import SessionCache


# A process counts as busy serving requests for this long after a request began.
BUSY_WINDOW_SECONDS = 0.25


@dataclass
class RequestActivity:
    """When this process last began a request: background work that competes with the API
    for the event loop (the relay draining a backlog) keeps to a pace while it is busy."""

    last: float = float("-inf")

    def seen(self) -> None:
        self.last = time.monotonic()

    def busy(self) -> bool:
        return time.monotonic() - self.last < BUSY_WINDOW_SECONDS


@dataclass
class Runtime:
    """The engine, its sessions, the shared HTTP client, the rate limiter, the token cache and
    event delivery."""

    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    limiter: CredentialLimiter
    # Checked tokens (the hot path's answer to "who is calling"), dropped on revocation.
    session_cache: SessionCache
    relay: OutboxRelay | None = None
    # "ok" | "down" | "off": the broker's state as the publisher last saw it.
    broker_status: Callable[[], Awaitable[str]] | None = None
    # Signs private-channel subscriptions; None when Pusher is not configured.
    pusher: pusher.Pusher | None = None
    # The outbox backlog per destination (for /metrics).
    outbox_metrics: Callable[[], Awaitable[dict[str, Any]]] | None = None
    # Set when shutdown begins: /readyz answers 503, so a load balancer stops sending traffic.
    draining: bool = False
    # Tells the other instances of revocations through Redis; None without REDIS_URL.
    session_bus: RevocationBus | None = None
    # Deletes what is past its retention, on one instance at a time (None: not started).
    housekeeper: Housekeeper | None = None
    # DATABASE_READ_URL's engine, for reads that may lag (token checks, lists); None: primary.
    replica: Replica | None = None
    # Publishes this worker's pool numbers for the others' scrapes (multiprocess mode only).
    pool_sampler: asyncio.Task[None] | None = None
    # When requests were last served (the relay's pace while the API is busy).
    activity: RequestActivity = field(default_factory=RequestActivity)
    # Writes that must not delay the answer they belong to; awaited at shutdown.
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def run_soon(self, work: Awaitable[None]) -> None:
        """Run `work` after the current answer, keeping it until it is done."""
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


def runtime() -> Runtime:
    """The running app's runtime, for the HTTP layer only; valid while serving (or inside
    `test_app()`). Services take the runtime as an argument."""
    rt: Runtime | None = current_app.extensions.get("runtime")
    if rt is None:
        raise RuntimeError("the app is not serving: use app.test_app() or run it")
    return rt
