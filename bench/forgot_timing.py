"""Forgot-password timing: does `/forgot_password` take as long for an unknown address as for
a known one? (A difference tells an attacker which addresses have accounts.)

Starts the real server (`quart-template serve`, a migrated SQLite file in a temporary directory,
the in-app outbox relay delivering to the console backend) on a free loopback port, signs up
the known addresses, then sends `/forgot_password` for known and unknown addresses in
alternation (each try a fresh address, so nothing is cached or rate limited), one request at a
time on one kept-alive connection. Prints the median of each and the difference.

Target: |median known - median unknown| <= 2 ms. Loopback only; the server is stopped at the
end.

    .venv/bin/python bench/forgot_timing.py [--tries 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from auth import free_port, wait_ready

BIN = Path(sys.executable).parent
PASSWORD = "bench passphrase 0123"
TARGET_MS = 2.0
SKIPPED_ENV = ("MYSQL_", "AMQP_", "BROKER_", "PUSHER_", "REDIS_", "DATABASE_URL", "ROLLBAR_")


def server_env(workdir: Path) -> dict[str, str]:
    """A development server on its own SQLite file; limits raised so the bench is not 429'd."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SKIPPED_ENV)}
    env.update(
        APP_ENV="development",
        DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        EMAIL_BACKEND="console",
        LOG_LEVEL="WARNING",
        SIGNUP_LIMIT_PER_IP="10000/hour",
        EMAIL_LIMIT_PER_IP="10000/hour",
        EMAIL_LIMIT_PER_ADDRESS="10000/hour",
    )
    return env


async def sign_up(client: httpx.AsyncClient, email: str) -> None:
    body = {"email": email, "password": PASSWORD, "first_name": "Bench", "last_name": "User"}
    response = await client.post("/signup", json=body)
    assert response.status_code in (200, 201), response.text


async def forgot(client: httpx.AsyncClient, email: str) -> float:
    """Seconds one `/forgot_password` took, as the client saw it."""
    started = time.perf_counter()
    response = await client.post("/forgot_password", json={"email": email})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


async def measure(base_url: str, process: subprocess.Popen[bytes], tries: int, rounds: int) -> bool:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await wait_ready(client, process)
        known = [f"known{i}@example.com" for i in range(tries * (rounds + 1))]
        for email in known:
            await sign_up(client, email)
        await asyncio.sleep(1.0)  # let the relay deliver the sign-up emails first
        # Warm-up round (connection, caches, JIT-less but lazy imports), not counted.
        for i in range(tries):
            await forgot(client, known[i])
            await forgot(client, f"warm{i}@example.net")
        ok = True
        for number in range(1, rounds + 1):
            timings: dict[str, list[float]] = {"known": [], "unknown": []}
            for i in range(tries):
                # Alternate which goes first, so drift and after-effects fall on both equally.
                pair = [
                    ("known", known[number * tries + i]),
                    ("unknown", f"nobody{number}-{i}@example.net"),
                ]
                for kind, email in pair if i % 2 == 0 else reversed(pair):
                    timings[kind].append(await forgot(client, email))
                    await asyncio.sleep(0.02)  # the relay's delivery is not the next request's
            known_ms = statistics.median(timings["known"]) * 1000
            unknown_ms = statistics.median(timings["unknown"]) * 1000
            difference = known_ms - unknown_ms
            verdict = "ok" if abs(difference) <= TARGET_MS else "MISSED"
            ok = ok and verdict == "ok"
            print(
                f"round {number}: median of {tries}: known {known_ms:.2f} ms, "
                f"unknown {unknown_ms:.2f} ms, difference {difference:+.2f} ms "
                f"(target |d| <= {TARGET_MS:.0f} ms) {verdict}"
            )
        return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20, help="requests per kind and round")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds")
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
        try:
            ok = asyncio.run(measure(f"http://127.0.0.1:{port}", process, args.tries, args.rounds))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    print("target met" if ok else "target MISSED in at least one round")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
