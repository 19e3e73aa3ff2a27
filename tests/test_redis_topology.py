"""REDIS_URL's shapes (one server, Sentinel, Cluster) as `limits` spells them: what is read
from each, what start-up refuses in one line naming REDIS_URL, and that no password reaches
the refusal or the backends line."""

from __future__ import annotations

import pytest

from quart_template.cli import describe_backends
from quart_template.redis_topology import RedisTopology
from quart_template.settings import Settings
from tests.support.backends import settings_for, start_up_refusal


def test_one_server_keeps_its_url_and_its_database() -> None:
    topology = RedisTopology.parse("redis://:pw@cache.internal:6380/5")
    assert (topology.kind, topology.nodes) == ("server", (("cache.internal", 6380),))
    assert topology.limits_uri == "async+redis://:pw@cache.internal:6380/5"
    assert RedisTopology.parse("rediss://cache.internal").nodes == (("cache.internal", 6379),)
    assert RedisTopology.parse("async+redis://cache:6379/0").url == "redis://cache:6379/0"


def test_sentinel_names_its_sentinels_and_the_service() -> None:
    topology = RedisTopology.parse("redis+sentinel://:p%2Cw@s1:26379,s2:26380/mymaster")
    assert topology.kind == "sentinel"
    assert topology.nodes == (("s1", 26379), ("s2", 26380))
    assert topology.service == "mymaster"
    assert topology.auth == {"password": "p,w"}  # percent-decoded, unlike limits' own reading
    assert topology.limits_uri == "async+redis+sentinel://:p%2Cw@s1:26379,s2:26380/mymaster"


def test_cluster_names_its_nodes_and_credentials() -> None:
    topology = RedisTopology.parse("redis+cluster://app:secret@n1:7000,n2:7001")
    assert (topology.kind, topology.nodes) == ("cluster", (("n1", 7000), ("n2", 7001)))
    assert topology.auth == {"username": "app", "password": "secret"}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("memcached://:secret@cache:11211", "unknown scheme 'memcached'"),
        ("cache.internal:6379", "unknown scheme"),
        ("redis+sentinel://:secret@s1:26379", "needs the service name"),
        ("redis+sentinel://:secret@s1,s2:26379/mymaster", "needs a host and a port, not 's1'"),
        ("redis+cluster://:secret@n1:7000/3", "only database 0"),
        ("redis+cluster://:secret@n1:port", "'n1:port' has no valid port"),
        ("redis+cluster://:secret@n1:7000?ssl=true", "takes no options"),
        ("redis://:secret@cache:6379/zero", "the database number"),
        ("redis://:secret@a:6379,b:6379", "several are redis+cluster://"),
    ],
)
def test_start_up_refuses_a_url_it_would_misread(url: str, problem: str) -> None:
    refused = start_up_refusal(settings_for("sqlite+aiosqlite:///x.db", redis_url=url))
    assert (refused.variable, "secret" in str(refused)) == ("REDIS_URL", False)
    assert problem in refused.problem


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "redis+sentinel://:redis-secret@s1:26379,s2:26379/mymaster",
            "redis+sentinel://:***@s1:26379,s2:26379/mymaster",
        ),
        ("redis+cluster://app:redis-secret@n1:7000,n2:7000", "redis+cluster://app:***@n1:7000"),
        ("redis://:redis-secret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis+cluster://n1:7000,n2:7000", "redis+cluster://n1:7000,n2:7000"),
    ],
)
def test_the_backends_line_shows_every_shape_without_its_password(url: str, shown: str) -> None:
    line = describe_backends(
        Settings.model_construct(database_url_="sqlite+aiosqlite:///x.db", redis_url=url)
    )
    assert "secret" not in line
    assert f"redis {shown}" in line
