"""Throw-away Redis topologies for tests: real `redis-server` processes on free loopback ports,
in a temporary folder, stopped afterwards (never the shared Redis on 6379).

- `sentinel_topology`: a primary, a replica of it and a sentinel watching them (quorum 1), so
  a test can force a failover; its URL names a sentinel that is down before the live one;
- `cluster_topology`: a Redis Cluster of three primaries (`redis-cli --cluster create`).

Both require a password (given in the URLs, percent-encoded: it holds a comma and a slash).
Without `redis-server` / `redis-cli` the tests skip, unless REQUIRE_REDIS_TOPOLOGIES=1 (CI sets
it): then they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.network import free_port

PASSWORD = "topology,secret/0123"
SERVICE = "mymaster"
START_SECONDS = 10.0


def redis_binaries() -> tuple[str, str]:
    """redis-server and redis-cli; a clear skip without them (a failure when required)."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server and cli:
        return server, cli
    reason = "redis-server and redis-cli are not installed (apt-get install redis-server)"
    if os.environ.get("REQUIRE_REDIS_TOPOLOGIES") == "1":
        pytest.fail(f"REQUIRE_REDIS_TOPOLOGIES=1 but {reason}")
    pytest.skip(f"{reason}; with REQUIRE_REDIS_TOPOLOGIES=1 this fails")


class RedisProcesses:
    """redis-server processes in `folder`, each on its own free port."""

    def __init__(self, folder: Path) -> None:
        self.server, self.cli = redis_binaries()
        self.folder = folder
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, config: str | None = None) -> int:
        """One redis-server (a sentinel when `config` says so); returns its port once it
        answers PING."""
        port = _free_cluster_port() if "--cluster-enabled" in args else free_port()
        home = self.folder / str(port)
        home.mkdir()
        command = [self.server]
        if config is not None:
            (home / "sentinel.conf").write_text(config.format(port=port))
            command += ["sentinel.conf", "--sentinel"]
        command += ["--port", str(port), "--bind", "127.0.0.1", *args]
        log = (home / "redis.log").open("wb")
        self._processes.append(
            subprocess.Popen(command, cwd=home, stdout=log, stderr=subprocess.STDOUT)
        )
        _wait_for_ping(port, home / "redis.log")
        return port

    def cli_call(self, port: int, *args: str) -> str:
        """One redis-cli command against the server on `port` (authenticated)."""
        done = subprocess.run(
            [self.cli, "-p", str(port), "--no-auth-warning", "-a", PASSWORD, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    def stop(self) -> None:
        for process in self._processes:
            process.kill()
        for process in self._processes:
            process.wait(timeout=10)
        self._processes.clear()


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (10,000 higher) is free too."""
    while True:
        port = free_port()
        if port <= 55535:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def _wait_for_ping(port: int, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64)[:1] in (b"+", b"-"):  # PONG, or NOAUTH: it answers
                    return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"redis-server on {port} did not start: {log.read_text()[-2000:]}")


SERVER_ARGS = ("--save", "", "--appendonly", "no", "--requirepass", PASSWORD)
SENTINEL_CONFIG = f"""port {{port}}
bind 127.0.0.1
requirepass "{PASSWORD}"
sentinel monitor {SERVICE} 127.0.0.1 {{primary}} 1
sentinel auth-pass {SERVICE} "{PASSWORD}"
sentinel down-after-milliseconds {SERVICE} 1000
sentinel failover-timeout {SERVICE} 5000
"""


@dataclass
class SentinelTopology:
    url: str
    primary: int
    replica: int
    sentinel: int
    processes: RedisProcesses

    def current_primary(self) -> int:
        """The primary's port as the sentinel tells its clients now (SENTINEL MASTER: it
        changes at the end of a failover, when the clients are meant to move)."""
        answer = self.processes.cli_call(self.sentinel, "SENTINEL", "MASTER", SERVICE).split()
        return int(answer[answer.index("port") + 1])

    def fail_over(self) -> int:
        """Make the replica the primary (SENTINEL FAILOVER) once it has every write; returns
        the new primary's port once the old one, still running, is its replica."""
        old = self.current_primary()
        deadline = time.monotonic() + 30
        while not self._replica_ready(old):
            assert time.monotonic() < deadline, "the sentinel never saw the replica in sync"
            time.sleep(0.02)
        self.processes.cli_call(self.sentinel, "SENTINEL", "FAILOVER", SERVICE)
        while self.current_primary() == old:
            assert time.monotonic() < deadline, "the failover did not finish"
            time.sleep(0.02)
        new = self.current_primary()
        # The sentinel turns the old primary into a replica when it next looks at it (about
        # 10 s later); until then it still takes the writes of connections made before, and
        # its resync drops them (Sentinel's own window). Done at once here, as it will be.
        self.processes.cli_call(old, "REPLICAOF", "127.0.0.1", str(new))
        return new

    def _replica_ready(self, primary: int) -> bool:
        """The sentinel knows the replica with its link up, and it has every write."""
        known = self.processes.cli_call(self.sentinel, "SENTINEL", "REPLICAS", SERVICE).split()
        if str(self.replica) not in known or "master-link-status" not in known:
            return False
        if known[known.index("master-link-status") + 1] != "ok":
            return False
        written = _info(self.processes, primary, "master_repl_offset")
        return written == _info(self.processes, self.replica, "slave_repl_offset")


def _info(processes: RedisProcesses, port: int, field: str) -> str:
    """One field of the server's INFO replication."""
    for line in processes.cli_call(port, "INFO", "replication").splitlines():
        if line.startswith(f"{field}:"):
            return line.split(":", 1)[1].strip()
    return ""


def sentinel_topology(folder: Path) -> Iterator[SentinelTopology]:
    """A primary, its replica and a sentinel; stopped afterwards."""
    processes = RedisProcesses(folder)
    try:
        # The replica's first full sync starts at once, not after the usual 5 s wait.
        primary = processes.start(
            *SERVER_ARGS, "--masterauth", PASSWORD, "--repl-diskless-sync-delay", "0"
        )
        replica = processes.start(
            *SERVER_ARGS, "--masterauth", PASSWORD, "--replicaof", "127.0.0.1", str(primary)
        )
        # In sync before the sentinel first looks (it looks again only every 10 s).
        deadline = time.monotonic() + START_SECONDS
        while _info(processes, replica, "master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica never synced"
            time.sleep(0.02)
        sentinel = processes.start(config=SENTINEL_CONFIG.replace("{primary}", str(primary)))
        # A sentinel that is down comes first in the URL, as when one of several is.
        sentinels = f"127.0.0.1:{free_port()},127.0.0.1:{sentinel}"
        url = f"redis+sentinel://:{quote(PASSWORD, safe='')}@{sentinels}/{SERVICE}"
        yield SentinelTopology(url, primary, replica, sentinel, processes)
    finally:
        processes.stop()


def cluster_topology(folder: Path) -> Iterator[str]:
    """A Cluster of three primaries; yields its URL (naming two of them)."""
    processes = RedisProcesses(folder)
    cluster_args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
    try:
        ports = [processes.start(*SERVER_ARGS, *cluster_args) for _ in range(3)]
        processes.cli_call(
            ports[0], "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-yes"
        )
        deadline = time.monotonic() + START_SECONDS
        for port in ports:
            while "cluster_state:ok" not in processes.cli_call(port, "CLUSTER", "INFO"):
                assert time.monotonic() < deadline, "the cluster did not come up"
                time.sleep(0.05)
        hosts = ",".join(f"127.0.0.1:{port}" for port in ports[:2])
        yield f"redis+cluster://:{quote(PASSWORD, safe='')}@{hosts}"
    finally:
        processes.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelTopology]:
    """A Sentinel topology shared by the tests of a run (each keeps to its own keys)."""
    yield from sentinel_topology(tmp_path_factory.mktemp("redis-sentinel"))


@pytest.fixture
def own_redis_sentinel(tmp_path: Path) -> Iterator[SentinelTopology]:
    """A Sentinel topology of this test's own, for a test that fails it over."""
    yield from sentinel_topology(tmp_path)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis Cluster shared by the tests of a run; its URL."""
    yield from cluster_topology(tmp_path_factory.mktemp("redis-cluster"))


@pytest.fixture(params=["sentinel", "cluster"])
def redis_topology_url(request: pytest.FixtureRequest) -> str:
    """REDIS_URL of the shared Sentinel topology, then of the shared Cluster."""
    if request.param == "sentinel":
        sentinel: SentinelTopology = request.getfixturevalue("redis_sentinel")
        return sentinel.url
    cluster: str = request.getfixturevalue("redis_cluster")
    return cluster
