"""Social sign-in benchmark: do 100 concurrent GitHub sign-ins overlap, or queue?

Starts a fake GitHub on loopback that answers every call after 200 ms (the token exchange, then
`/user` and `/user/emails`), and the real server (`quart-template serve`, a migrated SQLite file
in a temporary directory) pointed at it. Measures one sign-in alone (median of 5), then 100
different GitHub accounts signing in at once: total time, p50, p99.

Target: total for 100 <= 2.5 x one sign-in (the provider calls overlap; only the short database
transactions queue, SQLite having one writer). Loopback only; the server is stopped at the end.

    .venv/bin/python bench/social.py [--count 100] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.providers import FakeProviders  # noqa: E402

BIN = Path(sys.executable).parent
SKIPPED_ENV = ("MYSQL_", "AMQP_", "BROKER_", "PUSHER_", "REDIS_", "DATABASE_URL", "ROLLBAR_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(workdir: Path, fake: FakeProviders) -> dict[str, str]:
    """A development server on its own SQLite file whose GitHub is the fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SKIPPED_ENV)}
    env.update(
        APP_ENV="development",
        DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        EMAIL_BACKEND="console",
        LOG_LEVEL="WARNING",
        PROVIDER_TIMEOUT="10",
    )
    for name, value in fake.settings_overrides().items():
        if name.startswith("github_"):
            env[name.upper()] = str(value)
    return env


async def post_json(port: int, path: str, body: dict[str, object]) -> tuple[int, bytes]:
    """One POST on its own connection. A bare asyncio client: the load generator shares the
    CPUs with the server, so it should cost as little as possible (httpx's pool costs more)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        payload = json.dumps(body).encode()
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await reader.readexactly(length)
    finally:
        writer.close()


async def sign_in(port: int, fake: FakeProviders, user_id: int) -> float:
    code = fake.github_account(user_id, email=f"user{user_id}@example.com", login=f"u{user_id}")
    started = time.perf_counter()
    status, answer = await post_json(port, "/social/github", {"code": code})
    elapsed = time.perf_counter() - started
    if status != 200 or b'"access_token"' not in answer:
        raise SystemExit(f"sign-in failed: {status} {answer[:200]!r}")
    return elapsed


async def wait_ready(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("server did not become ready in 30 s")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


async def measure(
    fake: FakeProviders, port: int, process: asyncio.subprocess.Process, count: int
) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        await wait_ready(client, process)
    await sign_in(port, fake, 1)  # warm-up: imports, caches, the first connections
    alone = statistics.median([await sign_in(port, fake, 10 + i) for i in range(5)])
    started = time.perf_counter()
    latencies = await asyncio.gather(*(sign_in(port, fake, 1000 + i) for i in range(count)))
    total = time.perf_counter() - started
    ratio = total / alone
    print(f"fake GitHub: {fake.delay * 1000:.0f} ms per call (token, then /user + /user/emails)")
    print(f"one sign-in alone (median of 5): {alone * 1000:.0f} ms")
    print(
        f"{count} concurrent sign-ins: total {total * 1000:.0f} ms, "
        f"p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.0f} ms"
    )
    verdict = "ok" if ratio <= 2.5 else "MISSED"
    print(f"target: total / one = {ratio:.2f} (<= 2.5)  {verdict}")


async def run(count: int, delay: float) -> None:
    fake = FakeProviders(delay=delay)
    await fake.start()
    try:
        with tempfile.TemporaryDirectory(prefix="qt-bench-social-") as tmp:
            workdir = Path(tmp)
            env = server_env(workdir, fake)
            cli = str(BIN / "quart-template")
            migrate = await asyncio.create_subprocess_exec(
                cli,
                "migrate",
                env=env,
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if await migrate.wait() != 0:
                raise SystemExit("migrate failed")
            port = free_port()
            process = await asyncio.create_subprocess_exec(
                *[cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                await measure(fake, port, process, count)
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()
    finally:
        await fake.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2, help="fake GitHub answer delay (s)")
    args = parser.parse_args()
    try:  # the load generator shares the machine with the server: keep its own cost low
        import uvloop

        uvloop.run(run(args.count, args.delay))
    except ImportError:
        asyncio.run(run(args.count, args.delay))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
