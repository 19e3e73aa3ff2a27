"""Revocations reach every instance through Redis pub/sub: after a commit that ended a session
or changed a person, this instance publishes the person ids, and every other instance drops
their cached callers within moments.

Pub/sub keeps no message for an instance that is not listening, so the subscription is the
judge: each time it is (re)established the whole cache is dropped (whatever was announced
meanwhile is unknown). While Redis is unreachable nothing is lost for long either: entries
never live longer than SESSION_CACHE_SECONDS, and the listener reconnects with backoff.
REDIS_URL may name one server, a Sentinel-watched primary or a Cluster (see `bus_clients`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Iterable

from quart_template.sessions.bus_clients import TIMEOUT_SECONDS, bus_clients
from quart_template.sessions.cache import SessionCache

log = logging.getLogger(__name__)

CHANNEL = "quart_template:sessions:changed"
# How often a listening bus asks whether the primary moved (Sentinel; nothing elsewhere).
MOVED_CHECK_SECONDS = 1.0
RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
CLOSE_GRACE_SECONDS = 2.0


class RevocationBus:
    """Publishes this instance's invalidations; applies the others' to `cache`."""

    def __init__(self, url: str, cache: SessionCache, *, channel: str | None = None) -> None:
        self.cache = cache
        self.channel = channel or CHANNEL
        # Our own announcements come back to us: already applied, so skipped.
        self.origin = secrets.token_hex(8)
        self.subscribed = asyncio.Event()
        self._redis = bus_clients(url)
        self._listener: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._unsent = False  # the last announcement failed (one warning per outage)

    def start(self) -> None:
        """Listen for the other instances' announcements (in the background, reconnecting)."""
        self.cache.listeners.append(self.announce)
        self._listener = asyncio.create_task(self._listen_forever(), name="session-revocations")

    def announce(self, person_ids: Iterable[str]) -> None:
        """Tell the other instances (sent in the background: called from a commit hook)."""
        message = " ".join((self.origin, *sorted(person_ids)))
        try:
            task = asyncio.get_running_loop().create_task(self._publish(message))
        except RuntimeError:  # no event loop (a script's synchronous commit): nobody to tell
            return
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, message: str) -> None:
        try:
            await self._redis.publish(self.channel, message)
        except Exception as exc:  # Redis down: the others' entries expire by themselves
            if not self._unsent:
                log.warning(
                    "session revocations not sent to the other instances (Redis "
                    "unreachable); their cached sessions end within SESSION_CACHE_SECONDS",
                    extra={"event": "session_revocation_unsent", "error": type(exc).__name__},
                )
            self._unsent = True
        else:
            self._unsent = False

    def receive(self, message: str) -> None:
        """Apply another instance's announcement."""
        origin, *person_ids = message.split()
        if origin != self.origin and person_ids:
            self.cache.drop(frozenset(person_ids))

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen()
            except Exception as exc:
                if self.subscribed.is_set():
                    failures = 0  # it worked until now: a new outage
                self.subscribed.clear()
                if failures == 0:
                    log.warning(
                        "session revocations from other instances unheard (Redis "
                        "unreachable); cached sessions end within SESSION_CACHE_SECONDS",
                        extra={"event": "session_bus_down", "error": type(exc).__name__},
                    )
                failures += 1
                await asyncio.sleep(RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS)) - 1])
            else:  # the primary moved: subscribe again at once, where publishes now go
                self.subscribed.clear()
                log.info(
                    "the Redis primary moved; listening for session revocations there",
                    extra={"event": "session_bus_moved"},
                )

    async def _listen(self) -> None:
        """Listen until the connection fails (raises) or the primary moves (returns)."""
        async with self._redis.subscription() as pubsub:
            await pubsub.subscribe(self.channel)
            while (await pubsub.get_message(timeout=TIMEOUT_SECONDS) or {}).get(
                "type"
            ) != "subscribe":
                pass
            self.cache.clear()  # anything announced before now may have been missed
            self.subscribed.set()
            log.info("listening for session revocations", extra={"event": "session_bus_up"})
            next_check = time.monotonic() + MOVED_CHECK_SECONDS
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=TIMEOUT_SECONDS
                )
                if message is not None and message.get("type") == "message":
                    data = message["data"]
                    self.receive(data.decode() if isinstance(data, bytes) else str(data))
                if time.monotonic() >= next_check:
                    if await self._redis.moved(pubsub):
                        return
                    next_check = time.monotonic() + MOVED_CHECK_SECONDS

    async def aclose(self) -> None:
        """Send what is still pending (briefly), stop listening, close the connections."""
        if self.announce in self.cache.listeners:
            self.cache.listeners.remove(self.announce)
        if self._sending:
            await asyncio.wait(self._sending, timeout=CLOSE_GRACE_SECONDS)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()
