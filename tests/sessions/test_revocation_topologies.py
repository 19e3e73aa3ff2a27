"""The revocation bus through Redis Sentinel and Redis Cluster (real servers the tests start,
tests/support/redis_servers.py): a token revoked through one instance is refused through the
other within 1 s; after a Sentinel failover both instances follow the new primary (the old one
still runs, as a replica, and would still take their connections) and revocations keep
arriving."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis

from quart_template.settings import Settings
from tests.support.instances import LONG, WITH_REDIS, instances, logout_reaches, until
from tests.support.redis_servers import PASSWORD, SentinelTopology


async def test_a_logout_reaches_the_other_instance_within_a_second(
    make_settings: Callable[..., Settings], redis_topology_url: str, channel: str
) -> None:
    settings = make_settings(redis_url=redis_topology_url, session_cache_seconds=LONG)
    async with instances(settings, settings, wait_for_redis=False) as (one, other):
        for instance in (one, other):
            assert instance.rt.session_bus is not None
            # at once, though the Sentinel URL names a sentinel that is down first
            await asyncio.wait_for(instance.rt.session_bus.subscribed.wait(), timeout=3)
        await logout_reaches(one, other, within=WITH_REDIS)


async def test_after_a_sentinel_failover_revocations_go_through_the_new_primary(
    make_settings: Callable[..., Settings], own_redis_sentinel: SentinelTopology, channel: str
) -> None:
    topology = own_redis_sentinel
    settings = make_settings(redis_url=topology.url, session_cache_seconds=LONG)
    async with instances(settings, settings) as (one, other):
        assert await _subscribers(topology.primary, channel) == 2
        new_primary = await asyncio.to_thread(topology.fail_over)
        assert new_primary == topology.replica
        # Both listeners move to the new primary, though the old one still answers.
        for _ in range(1000):
            if await _subscribers(new_primary, channel) == 2:
                break
            await asyncio.sleep(0.01)
        assert await _subscribers(new_primary, channel) == 2
        for instance in (one, other):
            assert instance.rt.session_bus is not None
            await until(instance.rt.session_bus.subscribed.is_set)
        assert await _subscribers(topology.primary, channel) == 0
        await logout_reaches(one, other, within=WITH_REDIS)


async def _subscribers(port: int, channel: str) -> int:
    """How many connections listen on `channel` at the server on `port`."""
    redis = Redis(port=port, password=PASSWORD)
    try:
        counts = await redis.pubsub_numsub(channel)
    finally:
        await redis.aclose()
    return int(counts[0][1])
