"""REDIS_URL's three shapes, spelled as the `limits` library reads them:

- one server: `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS;
- a primary that Sentinel watches:
  `redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name` (the sentinels'
  addresses; the password is given to the sentinels and to the primary alike);
- a Cluster: `redis+cluster://[[user]:password@]host:port[,host:port...]` (any of its nodes).

`RedisTopology.parse` reads one, refusing what neither `limits` nor redis-py would read as the
operator meant, with a problem that never repeats the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import SplitResult, unquote, urlsplit

Kind = Literal["server", "sentinel", "cluster"]

KINDS: dict[str, Kind] = {
    "redis": "server",
    "rediss": "server",
    "redis+sentinel": "sentinel",
    "redis+cluster": "cluster",
}
SHAPES = (
    "redis://, rediss://, redis+sentinel://host:port,.../service or redis+cluster://host:port,..."
)


@dataclass(frozen=True)
class RedisTopology:
    """Where REDIS_URL points, and how to reach it."""

    kind: Kind
    url: str
    # The sentinels' or the cluster nodes' addresses; for one server, that server.
    nodes: tuple[tuple[str, int], ...]
    service: str | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> RedisTopology:
        """Read REDIS_URL (limits' own `async+` prefix is accepted too); ValueError says what
        is wrong."""
        url = url.strip().removeprefix("async+")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in KINDS:
            shown = f"{scheme!r}" if scheme else "none"
            raise ValueError(f"unknown scheme {shown}; use {SHAPES}")
        kind = KINDS[scheme]
        nodes = _nodes(parts, default_port=None if kind != "server" else 6379)
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        path = parts.path.strip("/")
        if kind == "server":
            if path and not path.isdigit():
                raise ValueError(f"the path is the database number (e.g. /0), not {path!r}")
            if len(nodes) != 1:
                raise ValueError(f"{scheme}:// names one server; several are redis+cluster://")
            return cls(kind, url, nodes, username=username, password=password)
        if parts.query or parts.fragment:
            raise ValueError(f"{scheme}:// takes no options after the address ('?...')")
        if kind == "sentinel":
            if not path or "/" in path:
                raise ValueError(
                    "redis+sentinel:// needs the service name as its path, e.g. "
                    "redis+sentinel://sentinel1:26379,sentinel2:26379/mymaster"
                )
            return cls(kind, url, nodes, service=path, username=username, password=password)
        if path:
            raise ValueError("a Redis Cluster has only database 0: drop the path")
        return cls(kind, url, nodes, username=username, password=password)

    @property
    def limits_uri(self) -> str:
        """The storage URI of limits' asyncio storages."""
        return f"async+{self.url}"

    @property
    def auth(self) -> dict[str, Any]:
        """The credentials as keyword arguments (percent-decoded: limits passes the URL's own
        characters on as they are)."""
        given = {"username": self.username, "password": self.password}
        return {name: value for name, value in given.items() if value is not None}

    def redacted(self) -> str:
        """The URL without its password, for the logs."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        user = parts.username or ""
        return parts._replace(netloc=f"{user}:***@{_hosts(parts)}").geturl()


def _hosts(parts: SplitResult) -> str:
    return parts.netloc.rpartition("@")[2]


def _nodes(parts: SplitResult, *, default_port: int | None) -> tuple[tuple[str, int], ...]:
    """Every host:port of the URL (as limits splits them: commas after the credentials)."""
    nodes = []
    for location in _hosts(parts).split(","):
        where = urlsplit(f"//{location.strip()}")
        try:
            port = where.port if where.port is not None else default_port
        except ValueError:
            raise ValueError(f"{location.strip()!r} has no valid port") from None
        if not where.hostname or port is None:
            raise ValueError(f"every address needs a host and a port, not {location.strip()!r}")
        nodes.append((where.hostname, port))
    return tuple(nodes)
