"""Pusher destination: the `pusher` library signs the requests, the app's shared httpx client
sends them (the library's own async backend needs aiohttp), so nothing blocks the loop."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pusher
from pusher.http import process_response

from quart_template.events.destinations import NotAttempted, PermanentDeliveryError
from quart_template.events.outbox import Claimed
from quart_template.settings import Settings

MAX_EVENTS_PER_CALL = 10  # Pusher's batch limit
MAX_DATA_BYTES = 10240  # Pusher's per-event limit, measured as the library does
CONCURRENT_CALLS = 4


class HttpxBackend:
    """A `pusher` HTTP backend on httpx: `client.trigger(...)` returns a coroutine."""

    def __init__(self, client: Any, http: httpx.AsyncClient) -> None:
        self.client = client
        self._http = http

    async def send_request(self, request: Any) -> Any:
        response = await self._http.request(
            request.method,
            f"{request.base_url}{request.path}",
            params=request.query_params,
            content=request.body,
            headers=request.headers,
            timeout=self.client.timeout,
        )
        return process_response(response.status_code, response.text)


def pusher_client(settings: Settings, http: httpx.AsyncClient) -> pusher.Pusher:
    """The Pusher client for the configured app, host, port and TLS."""
    return pusher.Pusher(
        app_id=settings.pusher_app_id,
        key=settings.pusher_api_key,
        secret=settings.pusher_api_secret,
        cluster=settings.pusher_cluster,
        host=settings.pusher_host or None,
        port=settings.pusher_port,
        ssl=settings.pusher_ssl,
        timeout=min(settings.provider_timeout, 10.0),
        backend=HttpxBackend,
        http=http,
    )


def private_channel(entity: str, owner_id: str) -> str:
    """Only the owner can subscribe: `/pusher/auth` signs it for them alone."""
    return f"private-{entity}-{owner_id}"


def pusher_events(row: Claimed, *, public_channels: bool) -> list[dict[str, str]]:
    """The row's events: the public form on the owner's private channel, and optionally the
    public channel Flask Template used, with nothing but the entity id and version."""
    if not row.entity or not row.owner_id or not row.action:
        raise PermanentDeliveryError("not an entity event with an owner")
    data = json.dumps(row.body()["data"], separators=(",", ":"))
    if sys.getsizeof(data) > MAX_DATA_BYTES:
        raise PermanentDeliveryError("event data over Pusher's 10 kB limit")
    events = [
        {"channel": private_channel(row.entity, row.owner_id), "name": row.action, "data": data}
    ]
    if public_channels:
        public = json.dumps({"entity_id": row.entity_id, "version": row.version})
        events.append({"channel": row.entity, "name": row.action, "data": public})
    return events


class PusherDestination:
    """The `pusher` destination: batched trigger calls, a few at a time."""

    name = "pusher"

    def __init__(self, settings: Settings, http: httpx.AsyncClient, batch_size: int = 200) -> None:
        self.batch_size = batch_size
        self.client = pusher_client(settings, http)
        self._public_channels = settings.pusher_public_channels

    def start(self, on_ready: Callable[[], None]) -> None:
        """Stateless HTTP: nothing to connect."""

    def available(self) -> bool:
        return True

    async def wait_available(self, within: float) -> bool:
        return True

    async def deliver(self, rows: Sequence[Claimed]) -> list[BaseException | None]:
        results: dict[int, BaseException | None] = {}
        calls: list[list[tuple[Claimed, list[dict[str, str]]]]] = [[]]
        for row in rows:
            try:
                events = pusher_events(row, public_channels=self._public_channels)
            except PermanentDeliveryError as exc:
                results[row.id] = exc
                continue
            if sum(len(e) for _, e in calls[-1]) + len(events) > MAX_EVENTS_PER_CALL:
                calls.append([])
            calls[-1].append((row, events))
        gave_up = asyncio.Event()
        limit = asyncio.Semaphore(CONCURRENT_CALLS)

        async def call(batch: list[tuple[Claimed, list[dict[str, str]]]]) -> None:
            async with limit:
                error: BaseException | None = NotAttempted() if gave_up.is_set() else None
                if error is None:
                    try:
                        await self.client.trigger_batch([e for _, ev in batch for e in ev])
                    except Exception as exc:
                        error = exc
                        gave_up.set()  # Pusher is failing: don't queue more calls behind it
            for row, _ in batch:
                results[row.id] = error

        await asyncio.gather(*(call(batch) for batch in calls if batch))
        return [results[row.id] for row in rows]

    async def aclose(self) -> None:
        """The shared HTTP client belongs to the runtime."""
