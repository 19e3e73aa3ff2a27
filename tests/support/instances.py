"""Several serving instances of the service in one test (each with its own runtime, token cache
and revocation bus), and waiting for what one instance should see of another's changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from quart.typing import TestClientProtocol as Client

from quart_template.app import create_app
from quart_template.ratelimit import CredentialLimiter
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.factories import signed_in

# Only an announcement, never an entry's age, can make the other instance refuse in time.
LONG = 3600.0
WITH_REDIS = 1.0  # seconds: the contract's bound with Redis


@dataclass
class Instance:
    client: Client
    rt: Runtime


@asynccontextmanager
async def instances(
    *all_settings: Settings, wait_for_redis: bool = True
) -> AsyncIterator[list[Instance]]:
    """Serving apps, one per settings, each listening to Redis (when it has a URL)."""
    async with AsyncExitStack() as stack:
        running = []
        for settings in all_settings:
            served = await stack.enter_async_context(create_app(settings).test_app())
            rt: Runtime = served.app.extensions["runtime"]
            # Rate limits are not under test: their counters stay out of the shared Redis.
            await rt.limiter.aclose()
            rt.limiter = CredentialLimiter(settings.model_copy(update={"redis_url": None}))
            running.append(Instance(served.test_client(), rt))
        for instance in running:
            if instance.rt.session_bus is not None and wait_for_redis:
                await asyncio.wait_for(instance.rt.session_bus.subscribed.wait(), timeout=10)
        yield running


async def refused_within(seconds: float, request: Callable[[], Awaitable[Any]]) -> float:
    """Poll until the request answers 401; fail unless that happens within `seconds`."""
    started = time.monotonic()
    while True:
        response = await request()
        elapsed = time.monotonic() - started
        if response.status_code == 401:
            return elapsed
        assert response.status_code == 200
        assert elapsed < seconds, f"still accepted after {elapsed:.2f} s"
        await asyncio.sleep(0.01)


async def logout_reaches(one: Instance, other: Instance, *, within: float) -> None:
    """Someone signs in through `one` and is seen by `other` (cached there now), then logs out
    through `one`: `other` must refuse the token within `within` seconds."""
    user = await signed_in(one.rt)
    assert (await other.client.get("/me", headers=user.headers)).status_code == 200
    assert (await one.client.post("/logout", headers=user.headers)).status_code == 200
    await refused_within(within, lambda: other.client.get("/me", headers=user.headers))


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Wait (polling) until `condition()` holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)
