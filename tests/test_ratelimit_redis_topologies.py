"""Rate limits through Redis Sentinel and Redis Cluster (REDIS_URL redis+sentinel:// and
redis+cluster://), against real servers the tests start themselves (tests/support/
redis_servers.py): two instances share the counters, a sign-in on one clears the account on
both (the generation counter, read from the primary), and a Sentinel failover loses no count.
Throughout, nothing falls back to counting in memory."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.settings import Settings
from tests.support.redis_servers import SentinelTopology
from tests.test_ratelimit import RIGHT, attempt
from tests.test_ratelimit_redis import instance


@pytest.fixture(autouse=True)
def _counted_in_redis_throughout(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with caplog.at_level(logging.WARNING, logger="quart_template.ratelimit"):
        yield
    events = [getattr(record, "event", None) for record in caplog.records]
    assert "ratelimit_store_fallback" not in events


@asynccontextmanager
async def two_instances(settings: Settings) -> AsyncIterator[tuple[Client, Client]]:
    """Two instances of the service whose limiters share a key prefix of this test's own."""
    prefix = f"qt_topology_{uuid.uuid4().hex}"
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(instance(settings, prefix))
        yield first, await stack.enter_async_context(instance(settings, prefix))


async def test_two_instances_share_the_counters(
    make_settings: Callable[..., Settings], redis_topology_url: str
) -> None:
    async with two_instances(make_settings(redis_url=redis_topology_url)) as (first, second):
        for n in range(5):
            client = first if n % 2 else second
            assert (await attempt(client, "ada@example.com")).status_code == 401
        for client in (first, second):
            refused = await attempt(client, "ada@example.com", RIGHT)
            assert refused.status_code == 429
            assert 895 <= int(refused.headers["Retry-After"]) <= 900
        assert (await attempt(first, "bob@example.com", RIGHT)).status_code == 200


async def test_a_sign_in_on_one_instance_clears_the_account_on_the_other(
    make_settings: Callable[..., Settings], redis_topology_url: str
) -> None:
    settings = make_settings(redis_url=redis_topology_url, login_limit_per_account_all_ips="6/hour")
    async with two_instances(settings) as (first, second):
        for _ in range(5):
            await attempt(first, "ada@example.com", ip="1.1.1.1")
        locked = await attempt(second, "ada@example.com", RIGHT, ip="1.1.1.1")
        assert locked.status_code == 429
        assert (await attempt(second, "ada@example.com", RIGHT, ip="2.2.2.2")).status_code == 200
        # the new generation is read by the first instance at once
        assert (await attempt(first, "ada@example.com", RIGHT, ip="1.1.1.1")).status_code == 200


async def test_after_a_sentinel_failover_the_counters_carry_on_at_the_new_primary(
    make_settings: Callable[..., Settings], own_redis_sentinel: SentinelTopology
) -> None:
    async with two_instances(make_settings(redis_url=own_redis_sentinel.url)) as (first, second):
        for _ in range(3):
            assert (await attempt(first, "ada@example.com")).status_code == 401
        await asyncio.to_thread(own_redis_sentinel.fail_over)
        for _ in range(2):
            assert (await attempt(second, "ada@example.com")).status_code == 401
        assert (await attempt(first, "ada@example.com", RIGHT)).status_code == 429
