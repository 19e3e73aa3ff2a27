"""Authentication benchmark: does token checking stay cheap, and does login scale to the hash?

Starts the real server (`quart-template serve`, a migrated SQLite file in a temporary directory)
on a free loopback port, then reports in one run:

- req/s of a bare `GET /` and of an authenticated `GET /sessions`;
- login/s against the machine's hash limit (CPU count / the time of one argon2id hash at the
  configured parameters);
- the p99 latency of authenticated GETs while logins saturate the CPUs.

Targets: authenticated GET >= 0.5 x bare GET; logins >= 0.9 x hash limit; p99 < 50 ms.
Every phase is bounded in requests and seconds; the server is stopped at the end. Loopback only.
The load generator (httpx) shares the machine with the server, so absolute numbers are low
bounds; the ratios are what the targets are about.

    .venv/bin/python bench/auth.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
PASSWORD = "bench passphrase 0123"


@dataclass
class Run:
    """What one load phase measured (CPU seconds of the server and of this load generator)."""

    count: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)  # perf_counter() at each success
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    def cpu_ms(self) -> str:
        per = 1000 / max(1, self.count)
        return (
            f"server {self.server_cpu * per:.2f} ms, client {self.client_cpu * per:.2f} ms CPU/req"
        )

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


SERVER_PID = 0


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, threads included (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ticks() -> tuple[float, float]:
    """The machine's CPU steal and total ticks so far (/proc/stat): what the host's neighbours
    took shows here and nowhere else."""
    ticks = [float(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[7], sum(ticks)


def steal_percent(start: tuple[float, float], end: tuple[float, float]) -> float:
    """CPU steal between two `cpu_ticks()`, in % of the machine's CPU time."""
    return 100 * (end[0] - start[0]) / max(1.0, end[1] - start[1])


def inside(run: Run, spans: list[tuple[float, float]]) -> Run:
    """The requests of `run` that finished inside `spans` (perf_counter() start and end), as a
    run of their own."""
    picked = [
        (at, latency)
        for at, latency in zip(run.finished, run.latencies, strict=True)
        if any(start <= at < end for start, end in spans)
    ]
    return Run(
        count=len(picked),
        elapsed=sum(end - start for start, end in spans),
        latencies=[latency for _, latency in picked],
        finished=[at for at, _ in picked],
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


SKIPPED_ENV = ("MYSQL_", "AMQP_", "BROKER_", "PUSHER_", "REDIS_", "DATABASE_URL", "ROLLBAR_")


def server_env(workdir: Path) -> dict[str, str]:
    """A development server on its own SQLite file: no broker, Pusher, Redis or Rollbar."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SKIPPED_ENV)}
    env.update(
        APP_ENV="development",
        DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        EMAIL_BACKEND="console",
        LOG_LEVEL="WARNING",
    )
    return env


async def load(
    request: Callable[[], Awaitable[httpx.Response]],
    *,
    concurrency: int,
    total: int,
    seconds: float,
    expect: int = 200,
    stop: asyncio.Event | None = None,
) -> Run:
    """`concurrency` workers issue requests until `total` are done, `seconds` passed or `stop`."""
    run = Run()
    server_cpu, client_cpu = process_cpu(SERVER_PID), time.process_time()
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        while run.count + run.errors < total and time.perf_counter() < deadline:
            if stop is not None and stop.is_set():
                return
            t0 = time.perf_counter()
            try:
                response = await request()
                ok = response.status_code == expect
            except httpx.HTTPError:
                ok = False
            if ok:
                run.count += 1
                run.finished.append(time.perf_counter())
                run.latencies.append(run.finished[-1] - t0)
            else:
                run.errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.elapsed = time.perf_counter() - started
    run.server_cpu = process_cpu(SERVER_PID) - server_cpu
    run.client_cpu = time.process_time() - client_cpu
    return run


def hash_limit() -> tuple[float, float]:
    """(seconds per hash at the configured parameters, CPU count / that)."""
    from quart_template.accounts.passwords import hasher
    from quart_template.settings import Settings

    ph = hasher(Settings(_env_file=None))  # type: ignore[call-arg]
    stored = ph.hash(PASSWORD)
    timings = []
    for _ in range(15):
        t0 = time.perf_counter()
        ph.verify(stored, PASSWORD)
        timings.append(time.perf_counter() - t0)
    one = statistics.median(timings)
    return one, (os.cpu_count() or 1) / one


async def signed_in(client: httpx.AsyncClient, email: str) -> str:
    body = {"email": email, "password": PASSWORD, "first_name": "Bench", "last_name": "User"}
    created = await client.post("/signup", json=body)
    assert created.status_code in (200, 201), created.text
    response = await client.post("/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["user"]["access_token"]
    return token


async def wait_ready(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("server did not become ready in 30 s")


async def measure(base_url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    cpus = os.cpu_count() or 1
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        await wait_ready(client, process)
        reader = {"Authorization": f"Bearer {await signed_in(client, 'reader@example.com')}"}
        await signed_in(client, "loginer@example.com")
        login_body = {"email": "loginer@example.com", "password": PASSWORD}

        def bare() -> Awaitable[httpx.Response]:
            return client.get("/")

        def authed() -> Awaitable[httpx.Response]:
            return client.get("/sessions", headers=reader)

        def login() -> Awaitable[httpx.Response]:
            return client.post("/login", json=login_body)

        await load(bare, concurrency=8, total=300, seconds=2)  # warm-up
        await load(authed, concurrency=8, total=300, seconds=2)
        bare_run = await load(bare, concurrency=16, total=40_000, seconds=seconds)
        authed_run = await load(authed, concurrency=16, total=40_000, seconds=seconds)
        one_hash, limit = hash_limit()
        login_run = await load(login, concurrency=4 * cpus, total=2_000, seconds=seconds)

        stop = asyncio.Event()
        logins = asyncio.create_task(
            load(login, concurrency=4 * cpus, total=2_000, seconds=seconds + 2, stop=stop)
        )
        await asyncio.sleep(0.5)  # let the logins saturate first
        under_load = await load(authed, concurrency=2, total=20_000, seconds=seconds)
        stop.set()
        await logins

    ratio_get = authed_run.rate / bare_run.rate
    ratio_login = login_run.rate / limit
    p99_ms = under_load.percentile(99) * 1000
    print(f"CPUs: {cpus}; one hash: {one_hash * 1000:.1f} ms; hash limit: {limit:.1f}/s")
    print(_line("bare GET /", bare_run, "req/s"))
    print(_line("authenticated GET", authed_run, "req/s"))
    print(_line("logins", login_run, "/s"))
    print(
        f"auth GET under logins    p50 {under_load.percentile(50) * 1000:.1f} ms, "
        f"p99 {p99_ms:.1f} ms ({under_load.count} ok, {under_load.errors} errors)"
    )
    # The load generator shares the CPUs, so this is what the server alone would reach.
    server_share = one_hash / (login_run.server_cpu / max(1, login_run.count))
    print(f"server-side login efficiency (hash time / server CPU per login): {server_share:.2f}")
    # The hash limit over the CPUs the load generator left to the server.
    generator_cpus = login_run.client_cpu / login_run.elapsed if login_run.elapsed else 0.0
    server_limit = max(0.0, cpus - generator_cpus) / one_hash
    ratio_left = login_run.rate / server_limit if server_limit else 0.0
    print(
        f"the load generator used {generator_cpus:.2f} CPUs during the logins; "
        f"hash limit on the rest: {server_limit:.1f}/s"
    )
    print("targets:")
    print(f"  authenticated / bare GET = {ratio_get:.2f} (>= 0.5)  {_verdict(ratio_get >= 0.5)}")
    print(
        f"  logins / hash limit      = {ratio_login:.2f} (>= 0.9)  {_verdict(ratio_login >= 0.9)}"
    )
    print(
        f"  logins / limit w/o load generator = {ratio_left:.2f} (>= 0.8)  "
        f"{_verdict(ratio_left >= 0.8)}"
    )
    print(
        f"  server-side login efficiency      = {server_share:.2f} (>= 0.8)  "
        f"{_verdict(server_share >= 0.8)}"
    )
    print(f"  p99 under login load     = {p99_ms:.1f} ms (< 50)  {_verdict(p99_ms < 50)}")


def _line(label: str, run: Run, unit: str) -> str:
    counts = f"{run.count} ok, {run.errors} errors; {run.cpu_ms()}"
    return f"{label:24s} {run.rate:8.1f} {unit:6s} ({counts})"


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qt-bench-") as tmp:
        workdir = Path(tmp)
        env = server_env(workdir)
        cli = str(BIN / "quart-template")
        subprocess.run([cli, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
        port = free_port()
        process = subprocess.Popen(
            [cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        global SERVER_PID
        SERVER_PID = process.pid
        try:
            asyncio.run(measure(f"http://127.0.0.1:{port}", process, args.seconds))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
