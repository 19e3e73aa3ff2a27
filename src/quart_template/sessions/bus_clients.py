"""The revocation bus's Redis clients for each shape of REDIS_URL (see `redis_topology`): a
publisher that survives one dead pooled connection, and subscriptions made afresh each time the
bus subscribes, so each finds the server that is current by then.

- One server: `Redis.from_url`.
- Sentinel: the primary the sentinels name (`Sentinel.master_for`), asked again on every new
  connection. A failover does not close the connections to the old primary (now a replica,
  which still accepts SUBSCRIBE and PUBLISH), so `moved` compares the subscription's server
  with the sentinels' answer; when they differ the bus subscribes again and the publisher's
  idle connections are dropped, so both follow the new primary.
- Cluster: redis-py's asyncio cluster client, whose pub/sub (`ClusterPubSub`) subscribes on the
  node that serves the channel's slot. Classic PUBLISH is broadcast to every node of a
  cluster, so subscribing on any node hears every instance; a lost node ends the subscription,
  and the next one starts from a freshly read cluster map.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from quart_template.redis_topology import RedisTopology

TIMEOUT_SECONDS = 1.0
# An idle subscription is pinged this often, so a silently dead connection is noticed.
HEALTH_CHECK_SECONDS = 5


def _options(*, retries: int) -> dict[str, Any]:
    return {
        "socket_timeout": TIMEOUT_SECONDS,
        "socket_connect_timeout": TIMEOUT_SECONDS,
        "health_check_interval": HEALTH_CHECK_SECONDS,
        # No silent reconnect for a subscription (retries=0): a new one must drop the cache.
        "retry": Retry(NoBackoff(), retries),
    }


class BusClients(Protocol):
    """What the bus needs of Redis, whatever its shape."""

    async def publish(self, channel: str, message: str) -> None: ...

    def subscription(self) -> AbstractAsyncContextManager[PubSub]: ...

    async def moved(self, pubsub: PubSub) -> bool:
        """Whether publishes now go elsewhere than this subscription listens."""

    async def aclose(self) -> None: ...


@contextlib.asynccontextmanager
async def _closing(pubsub: PubSub) -> AsyncIterator[PubSub]:
    try:
        yield pubsub
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py


class ServerBusClients:
    """One Redis server."""

    def __init__(self, topology: RedisTopology) -> None:
        self._publisher = Redis.from_url(topology.url, **_options(retries=1))
        self._subscriber = Redis.from_url(topology.url, **_options(retries=0))

    async def publish(self, channel: str, message: str) -> None:
        await self._publisher.publish(channel, message)

    def subscription(self) -> AbstractAsyncContextManager[PubSub]:
        """A pub/sub connection of its own, closed afterwards."""
        return _closing(self._subscriber.pubsub(ignore_subscribe_messages=False))

    async def moved(self, pubsub: PubSub) -> bool:
        return False

    async def aclose(self) -> None:
        await self._publisher.aclose()
        await self._subscriber.aclose()


class SentinelBusClients(ServerBusClients):
    """The primary that Sentinel names, followed across failovers."""

    def __init__(self, topology: RedisTopology) -> None:
        assert topology.service is not None
        self._service = topology.service
        # One try per sentinel: a dead one is passed over for the next, never retried.
        sentinel_options = {
            "socket_timeout": TIMEOUT_SECONDS,
            "socket_connect_timeout": TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 0),
            **topology.auth,
        }
        self._sentinel = Sentinel(  # type: ignore[no-untyped-call]  # untyped in redis-py
            list(topology.nodes), sentinel_kwargs=sentinel_options, **topology.auth
        )
        self._publisher = self._sentinel.master_for(self._service, **_options(retries=1))
        self._subscriber = self._sentinel.master_for(self._service, **_options(retries=0))

    async def moved(self, pubsub: PubSub) -> bool:
        connection = pubsub.connection
        if connection is None:
            return False
        try:
            primary = await self._sentinel.discover_master(self._service)
        except Exception:  # no sentinel answers: the primary may well be fine, keep listening
            return False
        if primary == (connection.host, connection.port):
            return False
        await self._publisher.connection_pool.disconnect()
        return True

    async def aclose(self) -> None:
        await super().aclose()
        for sentinel in self._sentinel.sentinels:
            await sentinel.aclose()


class ClusterBusClients:
    """A Redis Cluster, through any of the nodes the URL names."""

    def __init__(self, topology: RedisTopology) -> None:
        self._topology = topology
        self._publisher = self._cluster()

    def _cluster(self) -> RedisCluster:
        options = _options(retries=1)
        del options["retry"]  # the cluster client retries on another node by itself
        nodes = [ClusterNode(host, port) for host, port in self._topology.nodes]
        return RedisCluster(startup_nodes=nodes, **self._topology.auth, **options)

    async def publish(self, channel: str, message: str) -> None:
        await self._publisher.publish(channel, message)

    @contextlib.asynccontextmanager
    async def subscription(self) -> AsyncIterator[PubSub]:
        """A cluster client of its own (today's cluster map) and a pub/sub connection on it."""
        cluster = self._cluster()
        try:
            await cluster.initialize()
            async with _closing(cluster.pubsub(ignore_subscribe_messages=False)) as pubsub:
                yield pubsub
        finally:
            with contextlib.suppress(Exception):
                await cluster.aclose()

    async def moved(self, pubsub: PubSub) -> bool:
        return False

    async def aclose(self) -> None:
        await self._publisher.aclose()


def bus_clients(url: str) -> BusClients:
    """The clients for REDIS_URL's shape."""
    topology = RedisTopology.parse(url)
    if topology.kind == "sentinel":
        return SentinelBusClients(topology)
    if topology.kind == "cluster":
        return ClusterBusClients(topology)
    return ServerBusClients(topology)
