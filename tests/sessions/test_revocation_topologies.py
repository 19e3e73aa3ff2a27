"""The revocation bus through Redis Sentinel and Redis Cluster (real servers the tests start,
tests/support/redis_servers.py): a token revoked through one instance is refused through the
other within 1 s; after a Sentinel failover both instances follow the new primary (the old one
still runs, as a replica, and would still take their connections) and revocations keep
arriving."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from quart_template.settings import Settings
from tests.support.factories import signed_in
from tests.support.instances import LONG, WITH_REDIS, instances, refused_within, until
from tests.support.redis_servers import PASSWORD, SentinelTopology


@pytest.fixture(params=["sentinel", "cluster"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """REDIS_URL of each topology."""
    if request.param == "sentinel":
        sentinel: SentinelTopology = request.getfixturevalue("redis_sentinel")
        return sentinel.url
    cluster: str = request.getfixturevalue("redis_cluster")
    return cluster


async def test_a_logout_reaches_the_other_instance_within_a_second(
    make_settings: Callable[..., Settings], redis_url: str, channel: str
) -> None:
    settings = make_settings(redis_url=redis_url, session_cache_seconds=LONG)
    async with instances(settings, settings) as (one, other):
        user = await signed_in(one.rt)
        assert (await other.client.get("/me", headers=user.headers)).status_code == 200
        assert (await one.client.post("/logout", headers=user.headers)).status_code == 200
        await refused_within(WITH_REDIS, lambda: other.client.get("/me", headers=user.headers))


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

        user = await signed_in(one.rt)
        assert (await other.client.get("/me", headers=user.headers)).status_code == 200
        assert (await one.client.post("/logout", headers=user.headers)).status_code == 200
        await refused_within(WITH_REDIS, lambda: other.client.get("/me", headers=user.headers))


async def _subscribers(port: int, channel: str) -> int:
    """How many connections listen on `channel` at the server on `port`."""
    redis = Redis(port=port, password=PASSWORD)
    try:
        counts = await redis.pubsub_numsub(channel)
    finally:
        await redis.aclose()
    return int(counts[0][1])
