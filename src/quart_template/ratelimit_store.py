"""The rate limits' Redis storage for each shape of REDIS_URL (see `redis_topology`), as the
`limits` library builds it: one server or a Cluster through coredis (limits' default), a
Sentinel-watched primary through redis-py (see `sentinel_storage`). Errors are wrapped (limits'
StorageError) and nothing waits longer than a second, so the limiter can fall back at once."""

from __future__ import annotations

import contextlib
import inspect
import time
from typing import Any

from limits.aio.storage import RedisClusterStorage, RedisSentinelStorage, RedisStorage
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from quart_template.redis_topology import RedisTopology

TIMEOUT_SECONDS = 1.0
# How often, at most, the limiter asks the sentinels which server is the primary.
PRIMARY_CHECK_SECONDS = 1.0


def redis_storage(url: str, *, key_prefix: str) -> RedisStorage:
    """limits' storage for REDIS_URL."""
    topology = RedisTopology.parse(url)
    if topology.kind == "sentinel":
        return sentinel_storage(topology, key_prefix=key_prefix)
    storage = RedisClusterStorage if topology.kind == "cluster" else RedisStorage
    auth = topology.auth if topology.kind == "cluster" else {}  # from_url reads the URL's
    return storage(
        topology.limits_uri,
        wrap_exceptions=True,
        key_prefix=key_prefix,
        connect_timeout=TIMEOUT_SECONDS,
        stream_timeout=TIMEOUT_SECONDS,
        **auth,
    )


def sentinel_storage(topology: RedisTopology, *, key_prefix: str) -> RedisSentinelStorage:
    """Through redis-py, whose Sentinel connections drop themselves when the primary they
    lead to became a replica (its READONLY answer), so the next try asks the sentinels again;
    coredis 5's keep writing to it, and fail, for good. Reads go to the primary too: a replica
    may not have the generation a clear just wrote yet, and a sign-in must lift a lock at once."""
    timeouts = {"socket_timeout": TIMEOUT_SECONDS, "socket_connect_timeout": TIMEOUT_SECONDS}
    # One try per sentinel (a dead one is passed over for the next); one retry on the primary.
    sentinels: dict[str, Any] = {**timeouts, "retry": Retry(NoBackoff(), 0)}
    primary: dict[str, Any] = {**timeouts, "retry": Retry(NoBackoff(), 1), **topology.auth}
    return RedisSentinelStorage(
        topology.limits_uri,
        wrap_exceptions=True,
        implementation="redispy",
        key_prefix=key_prefix,
        use_replicas=False,
        sentinel_kwargs=sentinels,
        **primary,
    )


async def close_storage(storage: RedisStorage) -> None:
    """Drop its connections: the server's, the cluster nodes', or the primary's and the
    sentinels' (coredis disconnects at once, redis-py is awaited)."""
    bridge = getattr(storage, "bridge", None)
    sentinel = getattr(bridge, "sentinel", None)
    clients = [getattr(bridge, "storage", None), getattr(bridge, "storage_replica", None)]
    for client in [*clients, *getattr(sentinel, "sentinels", [])]:
        pool = getattr(client, "connection_pool", None)
        if pool is not None and inspect.isawaitable(closing := pool.disconnect()):
            await closing


class PrimaryWatch:
    """With Sentinel: asks, at most once a second, which server is the primary; when it is
    another one, redis-py drops the idle connections to the former (it asks only when it opens
    a connection, and a former primary, now a replica, still answers reads with what it has).
    Nothing to do for one server or a Cluster."""

    def __init__(self, storage: RedisStorage | None) -> None:
        bridge = getattr(storage, "bridge", None)
        sentinel = isinstance(storage, RedisSentinelStorage)
        self._pool: Any = bridge.storage.connection_pool if sentinel and bridge else None
        self._next_check = 0.0

    async def follow(self) -> None:
        if self._pool is None or time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + PRIMARY_CHECK_SECONDS
        with contextlib.suppress(Exception):  # no sentinel answers: the operation will say so
            await self._pool.get_master_address()
