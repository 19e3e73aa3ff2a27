"""`serve --workers 2` for real, under either server: the counters of `/metrics` are totals over
both workers, whichever one answers the scrape; the pool gauges add up the live workers; the
multiprocess directory is made (and removed) by `serve` when PROMETHEUS_MULTIPROC_DIR is unset,
and emptied of a last run's files when it is set."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from quart_template.db import SQLITE_POOL_SIZE
from quart_template.serving import SERVERS
from tests.support.metrics import Samples, parse, value
from tests.support.network import free_port

SCRIPT = str(Path(sys.executable).with_name("quart-template"))
DEADLINE = 60.0  # seconds: bounds, not expectations
SENT = 40
WORKERS = 2
HEALTHZ = {"route": "/healthz", "method": "GET", "status": "200"}


class Served:
    """`quart-template serve --workers 2` on a free port, its log in the test's directory."""

    def __init__(self, tmp_path: Path, server: str, **variables: str) -> None:
        self.port = free_port()
        self.log = tmp_path / "serve.log"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}"
        env.update(variables)
        command = [SCRIPT, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, "--workers", str(WORKERS), "--server", server],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def get(self, path: str) -> httpx.Response:
        """One request on a connection of its own, so any worker may accept it."""
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10) as client:
            return client.get(path, headers={"Connection": "close"})

    def scrape(self) -> Samples:
        response = self.get("/metrics")
        assert response.status_code == 200, response.text
        return parse(response.text)

    def wait_for_every_worker(self, pool_size: float) -> None:
        """Until both workers have published their pool (each worker's size adds up)."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                samples = self.scrape()
            except httpx.TransportError:
                samples = {}
            if value(samples, "quart_template_database_pool_size") == pool_size:
                return
            time.sleep(0.1)  # poll interval
        raise AssertionError(f"the workers did not all report:\n{self.log.read_text()}")

    def stop(self) -> str:
        """SIGTERM, a bounded wait (then SIGKILL); the log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log.read_text()


def healthz_total(samples: Samples) -> float:
    return value(samples, "quart_template_http_requests_total", **HEALTHZ) or 0.0


def send_and_count(served: Served) -> None:
    """SENT requests, then several scrapes: each one (from whichever worker) says SENT."""
    served.wait_for_every_worker(pool_size=WORKERS * SQLITE_POOL_SIZE)
    for _ in range(SENT):
        assert served.get("/healthz").status_code == 200
    totals = [healthz_total(served.scrape()) for _ in range(6)]
    assert totals == [SENT] * 6


@pytest.mark.parametrize("server", SERVERS)
def test_serve_makes_a_shared_directory_and_removes_it_at_exit(tmp_path: Path, server: str) -> None:
    served = Served(tmp_path, server)
    try:
        send_and_count(served)
    finally:
        log = served.stop()
    assert served.process.returncode == 0, log
    made = re.findall(r"metrics add up in (\S+)", log)
    assert len(made) == 1, log
    assert not Path(made[0]).exists()


@pytest.mark.parametrize("server", SERVERS)
def test_a_given_directory_is_emptied_first_and_keeps_the_counters(
    tmp_path: Path, server: str
) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    (shared / "counter_1.db").write_bytes(b"a last run's file: unreadable")
    served = Served(tmp_path, server, PROMETHEUS_MULTIPROC_DIR=str(shared))
    try:
        send_and_count(served)
    finally:
        log = served.stop()
    assert served.process.returncode == 0, log
    left = sorted(path.name for path in shared.iterdir())
    assert "counter_1.db" not in left
    assert any(name.startswith("counter_") for name in left), left  # the totals stay
    assert not any(name.startswith("gauge_livesum_") for name in left), left  # workers ended
