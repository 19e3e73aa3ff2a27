"""Events benchmark: outbox -> RabbitMQ throughput (publisher confirms) and delivery lag
while the API is under load.

Starts the real server (`quart-template serve`, in-app relay, a migrated SQLite file in a
temporary directory, or BENCH_DATABASE_URL) on a free loopback port against the local RabbitMQ
(BENCH_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/) with an exchange of its own, binds
a queue to it and measures:

- lag: logins (each writes a `session.create` event) keep the API busy; lag = arrival at the
  consumer - the event's `changed_on` (same machine, same clock), p50/p99;
- throughput: a burst of outbox rows (many entities, several versions each) is committed at
  once while the logins continue; events/s = burst size / (last arrival - commit).

Targets: >= 5,000 events/s; lag p99 < 200 ms. Loopback only; the server, the broker, the
database and the load generator share the machine, so the numbers are low bounds.

    .venv/bin/python bench/events.py [--seconds 8] [--burst 30000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from auth import PASSWORD, Run, free_port, load, server_env, signed_in, wait_ready

BIN = Path(sys.executable).parent
AMQP_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass
class Arrivals:
    """Every message the bench queue received: arrival time and lag by message id."""

    at: dict[str, float] = field(default_factory=dict)
    lag: dict[str, float] = field(default_factory=dict)
    routing: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.time()
        message_id = message.message_id or ""
        if message_id in self.at:
            self.duplicates += 1
            return
        self.at[message_id] = now
        self.routing[message_id] = message.routing_key or ""
        changed_on = datetime.fromisoformat(json.loads(message.body)["changed_on"])
        self.lag[message_id] = now - changed_on.timestamp()
        self.arrived.set()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else float("nan")


async def consume(exchange_name: str, arrivals: Arrivals) -> aio_pika.abc.AbstractConnection:
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=2000)
    exchange = await channel.declare_exchange(
        exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="#")

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        arrivals.record(message)

    await queue.consume(on_message, no_ack=True)
    return connection


async def commit_burst(database_url: str, entities: int, versions: int) -> tuple[set[str], float]:
    """Commit entities x versions outbox rows in one transaction, as a busy API would."""
    from sqlalchemy import insert

    from quart_template.db import make_engine
    from quart_template.events.outbox import OutboxMessage

    now = datetime.now(UTC)
    rows = []
    for e in range(entities):
        entity_id = uuid.uuid4().hex
        for v in range(1, versions + 1):
            changed = now + timedelta(microseconds=v)
            body = {
                "entity": "person",
                "action": "create" if v == 1 else "update",
                "entity_id": entity_id,
                "version": v,
                "changed_on": changed.isoformat(),
                "data": {"entity_id": entity_id, "first_name": f"Burst {e}", "version": v},
            }
            rows.append(
                {
                    "message_id": uuid.uuid4().hex,
                    "destination": "rabbitmq",
                    "kind": "entity",
                    "entity": "person",
                    "action": body["action"],
                    "entity_id": entity_id,
                    "version": v,
                    "owner_id": entity_id,
                    "payload": json.dumps(body, separators=(",", ":")),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(OutboxMessage), rows[start : start + 5000])
    committed = time.time()
    await engine.dispose()
    return {row["message_id"] for row in rows}, committed


async def wait_for(arrivals: Arrivals, ids: set[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not ids.issubset(arrivals.at.keys()):
        arrivals.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrivals.arrived.wait(), timeout=0.5)


@dataclass
class Load:
    """Background API load: logins (argon2, each writes an event) and authenticated GETs."""

    client: httpx.AsyncClient
    token: str
    logins: int
    reads: int

    def start(self, stop: asyncio.Event) -> asyncio.Task[list[Run]]:
        body = {"email": "events@example.com", "password": PASSWORD}
        headers = {"Authorization": f"Bearer {self.token}"}

        def login() -> Awaitable[httpx.Response]:
            return self.client.post("/login", json=body)

        def read() -> Awaitable[httpx.Response]:
            return self.client.get("/sessions", headers=headers)

        runs = [load(login, concurrency=self.logins, total=10**6, seconds=300, stop=stop)]
        if self.reads:
            runs.append(load(read, concurrency=self.reads, total=10**7, seconds=300, stop=stop))
        return asyncio.create_task(_gather(runs))


async def _gather(runs: list[Awaitable[Run]]) -> list[Run]:
    return list(await asyncio.gather(*runs))


async def lag_phase(arrivals: Arrivals, api: Load, seconds: float) -> tuple[list[float], str]:
    """Lag of the events the logins write while the load runs."""
    before = set(arrivals.at)
    stop = asyncio.Event()
    task = api.start(stop)
    await asyncio.sleep(seconds)
    stop.set()
    runs = await task
    await asyncio.sleep(1.0)
    lags = [
        arrivals.lag[m] * 1000
        for m in set(arrivals.at) - before
        if arrivals.routing[m] == "session.create"
    ]
    return lags, ", ".join(f"{run.rate:.0f}/s ({run.errors} errors)" for run in runs)


async def burst_phase(
    arrivals: Arrivals, api: Load | None, database_url: str, size: int
) -> tuple[float, int, str]:
    """Events/s for a burst committed at once, with or without API load meanwhile."""
    stop = asyncio.Event()
    task = api.start(stop) if api else None
    await asyncio.sleep(0.5)
    ids, committed = await commit_burst(database_url, size // 10, 10)
    await wait_for(arrivals, ids, seconds=120)
    stop.set()
    runs = await task if task else []
    received = ids & arrivals.at.keys()
    last = max((arrivals.at[m] for m in received), default=committed)
    rate = len(received) / (last - committed) if received else 0.0
    return rate, len(received), ", ".join(f"{run.rate:.0f}/s" for run in runs)


async def measure(
    base_url: str, process: subprocess.Popen[bytes], args: argparse.Namespace, env: dict[str, str]
) -> None:
    arrivals = Arrivals()
    connection = await consume(env["MQ_EXCHANGE"], arrivals)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        await wait_ready(client, process)
        token = await signed_in(client, "events@example.com")
        cpus = os.cpu_count() or 1
        moderate = Load(client, token, logins=1, reads=8)
        saturated = Load(client, token, logins=4 * cpus, reads=0)
        lag_moderate, moderate_rates = await lag_phase(arrivals, moderate, args.seconds)
        lag_saturated, saturated_rates = await lag_phase(arrivals, saturated, args.seconds)
        idle = await burst_phase(arrivals, None, env["DATABASE_URL"], args.burst)
        busy = await burst_phase(arrivals, moderate, env["DATABASE_URL"], args.burst)
        ready = (await client.get("/metrics.json")).json()
    await connection.close()

    p99 = percentile(lag_moderate, 99)
    print(f"CPUs: {cpus}; database: {env['DATABASE_URL'].split(':')[0]}; relay: {args.relay}")
    for name, lags, rates in (
        ("moderate load (1 login + 8 GET workers)", lag_moderate, moderate_rates),
        (f"saturated ({4 * cpus} login workers)", lag_saturated, saturated_rates),
    ):
        print(
            f"lag, {name}: {len(lags)} events, p50 {percentile(lags, 50):.1f} ms, "
            f"p99 {percentile(lags, 99):.1f} ms; API {rates}"
        )
    print(f"burst of {args.burst}, API idle:     {idle[0]:8,.0f} events/s ({idle[1]} delivered)")
    print(
        f"burst of {args.burst}, moderate load: {busy[0]:8,.0f} events/s ({busy[1]} delivered; "
        f"API {busy[2]})"
    )
    print(f"duplicates: {arrivals.duplicates}; /metrics.json after: {ready}")
    print("targets:")
    print(f"  throughput = {busy[0]:,.0f} events/s (>= 5,000)  {_verdict(busy[0] >= 5000)}")
    print(f"  lag p99    = {p99:.1f} ms (< 200)  {_verdict(p99 < 200)}")


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the lag phase")
    parser.add_argument("--burst", type=int, default=30_000, help="rows in the burst")
    parser.add_argument(
        "--relay",
        choices=("in-app", "process"),
        default="in-app",
        help="relay inside the API process, or `quart-template relay` beside it",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qt-bench-events-") as tmp:
        workdir = Path(tmp)
        env = server_env(workdir)
        env.update(
            AMQP_URL=AMQP_URL,
            MQ_EXCHANGE=f"bench-events-{uuid.uuid4().hex[:8]}",
            RELAY_IN_APP="true",
        )
        if os.environ.get("BENCH_DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
        cli = str(BIN / "quart-template")
        subprocess.run([cli, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
        port = free_port()
        log_path = os.environ.get("BENCH_SERVER_LOG")
        log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        process = subprocess.Popen(
            [cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=log,
        )
        processes = [process]
        if args.relay == "process":
            processes.append(subprocess.Popen([cli, "relay"], env=env, cwd=workdir))
        try:
            asyncio.run(measure(f"http://127.0.0.1:{port}", process, args, env))
        finally:
            for running in processes:
                stop(running)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
