"""Events benchmark: outbox -> RabbitMQ throughput (publisher confirms) and delivery lag
while the API is under load.

Starts the real server (`quart-template serve`, in-app relay, a migrated SQLite file in a
temporary directory, or BENCH_DATABASE_URL) on a free loopback port against the local RabbitMQ
(BENCH_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/) with an exchange of its own, binds
a queue to it and measures:

- lag: logins (each writes a `session.create` event) keep the API busy; lag = arrival at the
  consumer - the event's `changed_on` (same machine, same clock), p50/p99;
- draining: a burst of outbox rows (many entities, several versions each) is committed at
  once, with the API idle and then under the moderate load; events/s = burst size / (last
  arrival - commit), and the API's throughput (and p99) from the same load run in the
  `--baseline` seconds before the burst and while it drains.

Targets: the relay drains >= 1,000 events/s under the moderate load while the API keeps >= 0.8 x
its throughput without a backlog; lag p99 < 200 ms. Loopback only; the server, the broker, the
database and the load generator share the machine, so the numbers are low bounds.

    .venv/bin/python bench/events.py [--seconds 8] [--burst 30000] [--baseline 6]
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

from auth import (
    PASSWORD,
    Run,
    free_port,
    load,
    process_cpu,
    server_env,
    signed_in,
    wait_ready,
)

BIN = Path(sys.executable).parent
AMQP_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass
class Arrivals:
    """Every message the bench queue received: arrival time and lag by message id. A consumer
    process of its own receives them (`--consume`), so taking in a burst does not slow this
    process's load generator down, and appends one line per message to `path`."""

    path: Path
    at: dict[str, float] = field(default_factory=dict)
    lag: dict[str, float] = field(default_factory=dict)
    routing: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0
    _read: int = 0

    def refresh(self) -> None:
        with self.path.open("rb") as lines:
            lines.seek(self._read)
            chunk = lines.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._read += len(complete)
        for line in complete.decode().splitlines():
            message_id, at, routing, lag = line.split(" ")
            if message_id in self.at:
                self.duplicates += 1
                continue
            self.at[message_id] = float(at)
            self.routing[message_id] = routing
            self.lag[message_id] = float(lag)


def consumer(exchange_name: str, path: Path) -> subprocess.Popen[bytes]:
    """The consumer process; returns once its queue is bound."""
    path.write_bytes(b"")
    process = subprocess.Popen(
        [sys.executable, __file__, "--consume", exchange_name, str(path)], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        raise SystemExit("the bench consumer did not start")
    return process


async def consume(exchange_name: str, path: Path) -> None:
    """Receive until terminated, one line per message: id, arrival, routing key, lag (s)."""
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=2000)
    exchange = await channel.declare_exchange(
        exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="#")
    out = path.open("a")
    pending: list[str] = []

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.time()
        routing = message.routing_key or ""
        lag = 0.0
        if routing == "session.create":  # the lag phase's events; a burst's only need arrival
            changed_on = datetime.fromisoformat(json.loads(message.body)["changed_on"])
            lag = now - changed_on.timestamp()
        pending.append(f"{message.message_id} {now} {routing} {lag}\n")

    await queue.consume(on_message, no_ack=True)
    print("ready", flush=True)
    while True:
        await asyncio.sleep(0.05)
        if pending:
            out.write("".join(pending))
            out.flush()
            pending.clear()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else float("nan")


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
    arrivals.refresh()
    while time.monotonic() < deadline and not ids.issubset(arrivals.at.keys()):
        await asyncio.sleep(0.2)
        arrivals.refresh()


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
    arrivals.refresh()
    before = set(arrivals.at)
    stop = asyncio.Event()
    task = api.start(stop)
    await asyncio.sleep(seconds)
    stop.set()
    runs = await task
    await asyncio.sleep(1.0)
    arrivals.refresh()
    lags = [
        arrivals.lag[m] * 1000
        for m in set(arrivals.at) - before
        if arrivals.routing[m] == "session.create"
    ]
    return lags, ", ".join(f"{run.rate:.0f}/s ({run.errors} errors)" for run in runs)


@dataclass
class Window:
    """One load run's completions inside a time window (perf_counter seconds)."""

    rate: float
    p99_ms: float


def window(run: Run, start: float, end: float) -> Window:
    inside = [lat for at, lat in zip(run.finished, run.latencies, strict=True) if start <= at < end]
    return Window(len(inside) / max(1e-9, end - start), percentile(inside, 99) * 1000)


@dataclass
class Drain:
    """A burst drained: events/s, and each API load run before the burst and while it drained."""

    rate: float
    delivered: int
    before: list[Window]
    during: list[Window]
    server_cpu_per_event_ms: float  # all of the server's CPU while it drained, per event


async def burst_phase(
    arrivals: Arrivals, api: Load | None, database_url: str, size: int, baseline: float, pid: int
) -> Drain:
    """Events/s for a burst committed at once; with API load, the API's throughput in the
    `baseline` seconds before the burst and while it drains, from the same load run."""
    stop = asyncio.Event()
    task = api.start(stop) if api else None
    began = time.perf_counter()
    await asyncio.sleep(baseline if api else 0.5)
    commit_at, commit_wall = time.perf_counter(), time.time()
    cpu = process_cpu(pid)
    ids, _ = await commit_burst(database_url, size // 10, 10)
    await wait_for(arrivals, ids, seconds=120)
    cpu = process_cpu(pid) - cpu
    stop.set()
    runs = await task if task else []
    received = ids & arrivals.at.keys()
    last_wall = max((arrivals.at[m] for m in received), default=commit_wall)
    rate = len(received) / (last_wall - commit_wall) if received else 0.0
    drained_at = commit_at + (last_wall - commit_wall)
    warm = began + min(1.0, baseline / 3)  # connections and caches warm first
    return Drain(
        rate=rate,
        delivered=len(received),
        before=[window(run, warm, commit_at) for run in runs],
        during=[window(run, commit_at, drained_at) for run in runs],
        server_cpu_per_event_ms=cpu * 1000 / max(1, len(received)),
    )


async def measure(
    base_url: str,
    process: subprocess.Popen[bytes],
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
) -> None:
    arrivals = Arrivals(workdir / "arrivals.txt")
    receiver = consumer(env["MQ_EXCHANGE"], arrivals.path)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        await wait_ready(client, process)
        await signed_in(client, "events@example.com")  # the logins' person
        # The reads' person has one session: a list that grows with every login would make
        # the reads slower as the run goes on, whatever the relay does.
        token = await signed_in(client, "events-reader@example.com")
        cpus = os.cpu_count() or 1
        moderate = Load(client, token, logins=1, reads=8)
        saturated = Load(client, token, logins=4 * cpus, reads=0)
        lag_moderate, moderate_rates = await lag_phase(arrivals, moderate, args.seconds)
        lag_saturated, saturated_rates = await lag_phase(arrivals, saturated, args.seconds)
        url = env["DATABASE_URL"]
        idle = await burst_phase(arrivals, None, url, args.burst, 0, process.pid)
        busy = await burst_phase(arrivals, moderate, url, args.burst, args.baseline, process.pid)
        ready = (await client.get("/metrics.json")).json()
    stop(receiver)

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
    print(
        f"burst of {args.burst}, API idle:     {idle.rate:8,.0f} events/s "
        f"({idle.delivered} delivered; server CPU {idle.server_cpu_per_event_ms:.3f} ms/event)"
    )
    print(
        f"burst of {args.burst}, moderate load: {busy.rate:8,.0f} events/s "
        f"({busy.delivered} delivered)"
    )
    ratios = []
    for name, before, during in zip(
        ("logins", "GET /sessions"), busy.before, busy.during, strict=False
    ):
        ratio = during.rate / before.rate if before.rate else float("nan")
        ratios.append(ratio)
        print(
            f"  API {name}: {before.rate:6.1f}/s (p99 {before.p99_ms:.0f} ms) without a backlog, "
            f"{during.rate:6.1f}/s (p99 {during.p99_ms:.0f} ms) while it drains: {ratio:.2f} x"
        )
    print(f"duplicates: {arrivals.duplicates}; /metrics.json after: {ready}")
    print("targets:")
    print(
        f"  drain under load = {busy.rate:,.0f} events/s (>= 1,000)  {_verdict(busy.rate >= 1000)}"
    )
    worst = min(ratios, default=float("nan"))
    print(
        f"  API while draining = {worst:.2f} x its throughput without (>= 0.8)  "
        f"{_verdict(worst >= 0.8)}"
    )
    print(f"  lag p99 = {p99:.1f} ms (< 200)  {_verdict(p99 < 200)}")


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
        "--baseline", type=float, default=6.0, help="seconds of API load before the burst"
    )
    parser.add_argument(
        "--relay",
        choices=("in-app", "process"),
        default="in-app",
        help="relay inside the API process, or `quart-template relay` beside it",
    )
    parser.add_argument("--consume", nargs=2, metavar=("EXCHANGE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consume:  # the consumer process (see `consumer`)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(consume(args.consume[0], Path(args.consume[1])))
        return 0
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
            asyncio.run(measure(f"http://127.0.0.1:{port}", process, args, env, workdir))
        finally:
            for running in processes:
                stop(running)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
