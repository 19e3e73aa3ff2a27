"""Rate limits through Redis Sentinel and Redis Cluster (REDIS_URL redis+sentinel:// and
redis+cluster://), against real servers the tests start themselves (tests/support/
redis_servers.py): two instances share the counters, a sign-in on one clears the account on
both (the generation counter, read from the primary), and a Sentinel failover loses no count."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest

from quart_template.settings import Settings
from tests.support.redis_servers import SentinelTopology
from tests.test_ratelimit import RIGHT, attempt
from tests.test_ratelimit_redis import instance


@pytest.fixture(params=["sentinel", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """REDIS_URL of each topology."""
    if request.param == "sentinel":
        sentinel: SentinelTopology = request.getfixturevalue("redis_sentinel")
        return sentinel.url
    cluster: str = request.getfixturevalue("redis_cluster")
    return cluster


def _fallbacks(caplog: pytest.LogCaptureFixture) -> int:
    events = [getattr(record, "event", None) for record in caplog.records]
    return events.count("ratelimit_store_fallback")


async def test_two_instances_share_the_counters(
    make_settings: Callable[..., Settings], redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(redis_url=redis_url)
    prefix = f"qt_topology_{uuid.uuid4().hex}"
    with caplog.at_level(logging.WARNING, logger="quart_template.ratelimit"):
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(instance(settings, prefix))
            second = await stack.enter_async_context(instance(settings, prefix))
            for n in range(5):
                client = first if n % 2 else second
                assert (await attempt(client, "ada@example.com")).status_code == 401
            for client in (first, second):
                refused = await attempt(client, "ada@example.com", RIGHT)
                assert refused.status_code == 429
                assert 895 <= int(refused.headers["Retry-After"]) <= 900
            assert (await attempt(first, "bob@example.com", RIGHT)).status_code == 200
    assert _fallbacks(caplog) == 0  # counted in Redis throughout, never in memory


async def test_a_sign_in_on_one_instance_clears_the_account_on_the_other(
    make_settings: Callable[..., Settings], redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(redis_url=redis_url, login_limit_per_account_all_ips="6/hour")
    prefix = f"qt_topology_{uuid.uuid4().hex}"
    with caplog.at_level(logging.WARNING, logger="quart_template.ratelimit"):
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(instance(settings, prefix))
            second = await stack.enter_async_context(instance(settings, prefix))
            for _ in range(5):
                await attempt(first, "ada@example.com", ip="1.1.1.1")
            locked = await attempt(second, "ada@example.com", RIGHT, ip="1.1.1.1")
            assert locked.status_code == 429
            assert (
                await attempt(second, "ada@example.com", RIGHT, ip="2.2.2.2")
            ).status_code == 200
            # the new generation is read by the first instance at once
            assert (await attempt(first, "ada@example.com", RIGHT, ip="1.1.1.1")).status_code == 200
    assert _fallbacks(caplog) == 0


async def test_after_a_sentinel_failover_the_counters_carry_on_at_the_new_primary(
    make_settings: Callable[..., Settings],
    own_redis_sentinel: SentinelTopology,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(redis_url=own_redis_sentinel.url)
    prefix = f"qt_topology_{uuid.uuid4().hex}"
    with caplog.at_level(logging.WARNING, logger="quart_template.ratelimit"):
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(instance(settings, prefix))
            second = await stack.enter_async_context(instance(settings, prefix))
            for _ in range(3):
                assert (await attempt(first, "ada@example.com")).status_code == 401
            await asyncio.to_thread(own_redis_sentinel.fail_over)
            for _ in range(2):
                assert (await attempt(second, "ada@example.com")).status_code == 401
            assert (await attempt(first, "ada@example.com", RIGHT)).status_code == 429
    assert _fallbacks(caplog) == 0
