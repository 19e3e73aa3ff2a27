"""Events benchmark: outbox -> RabbitMQ throughput (publisher confirms) and delivery lag
while the API is under load.

Starts the real server (`quart-template serve`, in-app relay, a migrated SQLite file in a
temporary directory, or BENCH_DATABASE_URL) on a free loopback port against the local RabbitMQ
(BENCH_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/) with an exchange of its own, binds
a queue to it and measures:

- lag: logins (each writes a `session.create` event) keep the API busy; lag = arrival at the
  consumer - the event's `changed_on` (same machine, same clock), p50/p99;
- draining: a burst of outbox rows (many entities, several versions each) is committed at
  once (by a process of its own), with the API idle and then under the moderate load;
  events/s = burst size / (last arrival - commit), and the API's throughput (and p99) from the
  same load run while it drains and without a backlog: the `--baseline` seconds before the
  burst and as long after it drained, together.

Targets: the relay drains >= 1,000 events/s under the moderate load while the API keeps >= 0.8 x
its throughput without a backlog; lag p99 < 200 ms. Loopback only; the server, the broker, the
database, the load generator and the consumer share the machine, so the numbers are low
bounds; the CPU steal printed says how much the host's neighbours took meanwhile.

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

import aiormq
import aiormq.abc
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from auth import (
    PASSWORD,
    Run,
    cpu_ticks,
    free_port,
    inside,
    load,
    process_cpu,
    server_env,
    signed_in,
    steal_percent,
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
    """The consumer process; returns once its queue is bound. It stands for a service on
    another machine, so it runs at the lowest CPU priority (`nice` 19, `BENCH_CONSUMER_NICE`):
    it gets what the server, the database and the broker leave of the two CPUs, and its
    arrival times (so the events/s measured) are if anything late."""
    path.write_bytes(b"")
    process = subprocess.Popen(
        [sys.executable, __file__, "--consume", exchange_name, str(path)], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        raise SystemExit("the bench consumer did not start")
    return process


async def consume(exchange_name: str, path: Path) -> None:
    """Receive until terminated, one line per message: id, arrival, routing key, lag (s).
    aiormq's channel straight, without aio-pika's message objects: the consumer stands for a
    service on another machine, and what it costs here comes out of the server's two CPUs."""
    connection = await aiormq.connect(AMQP_URL)
    channel = await connection.channel()
    await channel.basic_qos(prefetch_count=2000)
    await channel.exchange_declare(exchange_name, exchange_type="topic", durable=True)
    declared = await channel.queue_declare(exclusive=True, auto_delete=True)
    assert declared.queue is not None
    await channel.queue_bind(declared.queue, exchange_name, routing_key="#")
    out = path.open("a")
    pending: list[str] = []

    async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
        now = time.time()
        routing = message.routing_key or ""
        lag = 0.0
        if routing == "session.create":  # the lag phase's events; a burst's only need arrival
            changed_on = datetime.fromisoformat(json.loads(message.body)["changed_on"])
            lag = now - changed_on.timestamp()
        pending.append(f"{message.header.properties.message_id} {now} {routing} {lag}\n")

    await channel.basic_consume(declared.queue, on_message, no_ack=True)
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


def burst_rows(entities: int, versions: int) -> list[dict[str, object]]:
    """entities x versions outbox rows, as a busy API would have written them."""
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = []
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
    return rows


async def write_burst(database_url: str, entities: int, versions: int) -> tuple[list[str], float]:
    """The `--commit` process: commit the rows in one transaction; their ids, and the
    wall-clock time of the commit."""
    from sqlalchemy import insert

    from quart_template.db import make_engine
    from quart_template.events.outbox import OutboxMessage

    rows = burst_rows(entities, versions)
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(OutboxMessage), rows[start : start + 5000])
    committed = time.time()
    await engine.dispose()
    return [str(row["message_id"]) for row in rows], committed


async def commit_burst(database_url: str, entities: int, versions: int) -> tuple[set[str], float]:
    """Commit a burst from a process of its own: building and inserting 30,000 rows inside
    this one stalled its load generator for a second or two, which counted against the API's
    throughput while the backlog drained. Returns the rows' ids and when they were committed
    (wall clock): the relay cannot see them before."""
    with tempfile.TemporaryDirectory(prefix="qt-bench-burst-") as tmp:
        ids_path = Path(tmp) / "ids.txt"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--commit",
            database_url,
            str(entities),
            str(versions),
            str(ids_path),
            stdout=subprocess.PIPE,
        )
        out, _ = await process.communicate()
        if process.returncode != 0:
            raise SystemExit("the bench's burst did not commit")
        return set(ids_path.read_text().split()), float(out.strip())


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
    """One load run's completions inside time windows (perf_counter seconds)."""

    rate: float
    p99_ms: float


def window(run: Run, *spans: tuple[float, float]) -> Window:
    picked = inside(run, list(spans))
    return Window(picked.rate, picked.percentile(99) * 1000)


@dataclass
class Drain:
    """A burst drained: events/s, and each API load run without a backlog (before the burst
    and after it drained, together) and while it drained."""

    rate: float
    delivered: int
    without: list[Window]
    during: list[Window]
    server_cpu_per_event_ms: float  # all of the server's CPU while it drained, per event
    cpu_steal: float  # % of the machine's CPU time, from the burst's commit to the end


async def burst_phase(
    arrivals: Arrivals, api: Load | None, database_url: str, size: int, baseline: float, pid: int
) -> Drain:
    """Events/s for a burst committed at once; with API load, the API's throughput while it
    drains and without a backlog: the `baseline` seconds before the burst and as long again
    after it drained, together, from the same load run (one window before only was too noisy
    a base: the same server's throughput drifted by a third between runs)."""
    stop = asyncio.Event()
    task = api.start(stop) if api else None
    began = time.perf_counter()
    await asyncio.sleep(baseline if api else 0.5)
    before_end = time.perf_counter()
    cpu, stolen = process_cpu(pid), cpu_ticks()
    ids, commit_wall = await commit_burst(database_url, size // 10, 10)
    # The committing process's start-up and inserts lie between the windows, in none of them.
    commit_at = time.perf_counter() - (time.time() - commit_wall)
    await wait_for(arrivals, ids, seconds=120)
    cpu = process_cpu(pid) - cpu
    received = ids & arrivals.at.keys()
    last_wall = max((arrivals.at[m] for m in received), default=commit_wall)
    rate = len(received) / (last_wall - commit_wall) if received else 0.0
    drained_at = commit_at + (last_wall - commit_wall)
    settle_at = time.perf_counter() + 1.0  # the last settles, the consumer's file written
    if task:
        await asyncio.sleep(1.0 + baseline)
    stop.set()
    runs = await task if task else []
    after_end = time.perf_counter()
    warm = began + min(1.0, baseline / 3)  # connections and caches warm first
    return Drain(
        rate=rate,
        delivered=len(received),
        without=[window(run, (warm, before_end), (settle_at, after_end)) for run in runs],
        during=[window(run, (commit_at, drained_at)) for run in runs],
        server_cpu_per_event_ms=cpu * 1000 / max(1, len(received)),
        cpu_steal=steal_percent(stolen, cpu_ticks()),
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
        f"({busy.delivered} delivered; CPU steal {busy.cpu_steal:.1f} %)"
    )
    ratios = []
    for name, without, during in zip(
        ("logins", "GET /sessions"), busy.without, busy.during, strict=False
    ):
        ratio = during.rate / without.rate if without.rate else float("nan")
        ratios.append(ratio)
        print(
            f"  API {name}: {without.rate:6.1f}/s (p99 {without.p99_ms:.0f} ms) without a backlog, "
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
    parser.add_argument(
        "--commit", nargs=4, metavar=("URL", "N", "V", "IDS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.consume:  # the consumer process (see `consumer`)
        os.nice(int(os.environ.get("BENCH_CONSUMER_NICE", "19")))
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(consume(args.consume[0], Path(args.consume[1])))
        return 0
    if args.commit:  # the burst's process (see `commit_burst`)
        url, entities, versions, ids_path = args.commit
        ids, committed = asyncio.run(write_burst(url, int(entities), int(versions)))
        Path(ids_path).write_text("".join(f"{message_id}\n" for message_id in ids))
        print(committed, flush=True)
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
