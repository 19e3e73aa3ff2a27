"""Housekeeping benchmark: does a big purge leave the API's latency alone, and does it keep up?

Fills a database with many ended sessions (default 1,000,000: nine in ten expired 40 days ago,
one in ten revoked then, with its `session_audit` row) and one delivered outbox row each, by
bulk inserts straight into the tables. Then starts the real server (`quart-template serve`,
in-app housekeeping) and measures `GET /auth/check` and `GET /sessions` latency (p50/p99)
before, during and after the purge, and the purge rate (rows/s). The purge is started through
the shared schedule (the lease row's `due_at` is set to now), exactly as an interval elapsing
would; a short login phase gives the login rate to compare the purge with.

Targets: API p99 during the purge <= 1.5 x without it (before and after together); purged
sessions/s >= 10 x logins/s.
SQLite always (a file in a temporary directory); MariaDB too when TEST_DATABASE_URL is set
(a throw-away `<name>_bench` database beside it, dropped at the end). Loopback only: the load
generator shares the machine with the server, so the ratios matter more than the numbers.

    .venv/bin/python bench/housekeeping.py [--rows 1000000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import Engine, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import auth
from auth import PASSWORD, Run, free_port, load, server_env, signed_in, wait_ready

from quart_template.accounts.models import Person
from quart_template.events.outbox import OutboxMessage
from quart_template.housekeeping.models import HousekeepingLease
from quart_template.sessions.models import AuthSession, session_audit

BIN = Path(sys.executable).parent
CHUNK = 20_000
SESSIONS_PER_PERSON = 100
FAR_AWAY = datetime(2100, 1, 1, tzinfo=UTC)


def sync_url(url: str) -> str:
    """The same database through a blocking driver, for the bulk fill."""
    return url.replace("+aiosqlite", "").replace("+aiomysql", "+pymysql")


def fill(url: str, rows: int) -> dict[str, int]:
    """People, ended sessions (a tenth revoked, with history) and one sent outbox row each."""
    engine = create_engine(sync_url(url))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _fast(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=OFF")
            dbapi_connection.execute("PRAGMA cache_size=-262144")

    ended = datetime.now(UTC) - timedelta(days=40)
    people = [uuid.uuid4().hex for _ in range(max(1, rows // SESSIONS_PER_PERSON))]
    with engine.begin() as conn:
        conn.execute(insert(Person), [_person(n, key, ended) for n, key in enumerate(people)])
    audits = 0
    for chunk in _chunks(rows):
        sessions = [_session(people[n % len(people)], n, ended) for n in chunk]
        history = [_history(row) for row in sessions if row["revoked_at"] is not None]
        audits += len(history)
        with engine.begin() as conn:
            conn.execute(insert(AuthSession), sessions)
            if history:
                conn.execute(insert(session_audit), history)
            conn.execute(insert(OutboxMessage), [_sent(row, ended) for row in sessions])
    with engine.begin() as conn:  # the schedule: no run until the bench asks for one
        conn.execute(
            insert(HousekeepingLease).values(
                name="housekeeping", holder=None, expires_at=ended, due_at=FAR_AWAY
            )
        )
    engine.dispose()
    return {"session": rows, "session_audit": audits, "outbox": rows}


def _chunks(rows: int) -> Iterator[range]:
    for start in range(0, rows, CHUNK):
        yield range(start, min(rows, start + CHUNK))


def _person(n: int, key: str, at: datetime) -> dict[str, Any]:
    email = f"filler{n}@example.com"
    return {
        "entity_id": key,
        "version": 1,
        "active": True,
        "changed_on": at,
        "email": email,
        "email_key": email,
        "verified": True,
        "mfa_enabled": False,
    }


def _session(person_id: str, n: int, ended: datetime) -> dict[str, Any]:
    revoked = n % 10 == 0
    return {
        "entity_id": uuid.uuid4().hex,
        "version": 2 if revoked else 1,
        "previous_version": 1 if revoked else None,
        "active": not revoked,
        "changed_on": ended,
        "token_hash": secrets.token_hex(32),
        "person_id": person_id,
        "created_at": ended - timedelta(hours=1),
        "expires_at": ended + timedelta(days=1) if revoked else ended,
        "last_used_at": ended,
        "proved_at": ended,
        "ip": "198.51.100.7",
        "user_agent": "bench/1.0",
        "revoked_at": ended if revoked else None,
    }


def _history(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "version": 1, "previous_version": None, "active": True, "revoked_at": None}


def _sent(row: dict[str, Any], ended: datetime) -> dict[str, Any]:
    return {
        "message_id": uuid.uuid4().hex,
        "destination": "rabbitmq",
        "kind": "entity",
        "entity": "session",
        "action": "create",
        "entity_id": row["entity_id"],
        "version": 1,
        "owner_id": row["person_id"],
        "payload": "{}",
        "status": "sent",
        "attempts": 1,
        "next_attempt_at": ended,
        "created_at": ended - timedelta(hours=1),
        "sent_at": ended - timedelta(hours=1),
    }


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
            for table in (AuthSession.__table__, session_audit, OutboxMessage.__table__)
        }


def lease_state(engine: Engine) -> tuple[str | None, datetime]:
    """The lease row's holder and next due time."""
    with engine.connect() as conn:
        row = conn.execute(select(HousekeepingLease.holder, HousekeepingLease.due_at)).one()
        return row.holder, row.due_at


def set_due(engine: Engine, when: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(HousekeepingLease).values(due_at=when))


async def phase(
    client: httpx.AsyncClient, headers: dict[str, str], *, seconds: float, until: asyncio.Event
) -> tuple[Run, Run]:
    """`/auth/check` and `GET /sessions` side by side (three clients each) for `seconds` or
    until `until` is set."""

    def check() -> Awaitable[httpx.Response]:
        return client.get("/auth/check", headers=headers)

    def listing() -> Awaitable[httpx.Response]:
        return client.get("/sessions", headers=headers)

    runs = await asyncio.gather(
        load(check, concurrency=3, total=10**9, seconds=seconds, stop=until),
        load(listing, concurrency=3, total=10**9, seconds=seconds, stop=until),
    )
    return runs[0], runs[1]


async def watch_purge(engine: Engine, started: asyncio.Event, done: asyncio.Event) -> list[float]:
    """Ask for a run now (as an elapsed interval would), then time it by polling the lease row:
    taken (holder set), then given back (holder cleared, next run scheduled)."""
    loop = asyncio.get_running_loop()
    asked = datetime.now(UTC)
    await loop.run_in_executor(None, set_due, engine, asked)
    marks = [time.perf_counter()]
    while not done.is_set():
        holder, due_at = await loop.run_in_executor(None, lease_state, engine)
        if holder is not None and not started.is_set():
            marks[0] = time.perf_counter()
            started.set()
        if holder is None and due_at > asked:
            marks.append(time.perf_counter())
            started.set()
            done.set()
        await asyncio.sleep(0.02)
    await loop.run_in_executor(None, set_due, engine, FAR_AWAY)  # no second run meanwhile
    return marks


# MariaDB's view of a purge: dirty pages, the undo history InnoDB's purge threads still have
# to work off, buffer-pool misses (disk reads: MariaDB opens its files O_DIRECT), reads that
# had to wait for a free page, and fsyncs.
INNODB_STATUS = (
    "Innodb_buffer_pool_pages_dirty",
    "Innodb_buffer_pool_pages_total",
    "Innodb_history_list_length",
    "Innodb_buffer_pool_reads",
    "Innodb_buffer_pool_wait_free",
    "Innodb_data_fsyncs",
)


def innodb_status(engine: Engine) -> dict[str, int]:
    names = ", ".join(f"'{name}'" for name in INNODB_STATUS)
    with engine.connect() as conn:
        found = conn.execute(text(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})"))
        return {name: int(value) for name, value in found}


async def sample_innodb(
    engine: Engine, samples: list[tuple[float, dict[str, int]]], stop: asyncio.Event
) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        samples.append(
            (time.perf_counter(), await loop.run_in_executor(None, innodb_status, engine))
        )
        await asyncio.sleep(0.5)


def innodb_summary(samples: list[tuple[float, dict[str, int]]], start: float, end: float) -> str:
    window = [(at, status) for at, status in samples if start <= at <= end]
    if len(window) < 2:
        return "too short to say"
    (t0, first), (t1, last) = window[0], window[-1]
    dirty = [
        s["Innodb_buffer_pool_pages_dirty"] / s["Innodb_buffer_pool_pages_total"] for _, s in window
    ]
    history = [s.get("Innodb_history_list_length", 0) for _, s in window]

    waits = last["Innodb_buffer_pool_wait_free"] - first["Innodb_buffer_pool_wait_free"]

    def per_second(name: str) -> float:
        return (last[name] - first[name]) / (t1 - t0)

    return (
        f"dirty pages max {max(dirty) * 100:.0f} %, history list max {max(history):,}, "
        f"disk reads {per_second('Innodb_buffer_pool_reads'):,.0f}/s, "
        f"free-page waits {waits}, "
        f"fsyncs {per_second('Innodb_data_fsyncs'):,.0f}/s"
    )


def cpu_ticks() -> tuple[float, float]:
    """The machine's CPU steal and total ticks so far (/proc/stat): what the host's neighbours
    took shows here and nowhere else."""
    ticks = [float(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[7], sum(ticks)


def _steal_percent(start: tuple[float, float], end: tuple[float, float]) -> float:
    return 100 * (end[0] - start[0]) / max(1.0, end[1] - start[1])


async def measure(
    url: str, base_url: str, process: subprocess.Popen[bytes], seconds: float
) -> dict[str, Any]:
    engine = create_engine(sync_url(url))
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    result: dict[str, Any] = {}
    samples: list[tuple[float, dict[str, int]]] = []
    stop_sampling = asyncio.Event()
    sampler = None
    if engine.dialect.name == "mysql":
        sampler = asyncio.create_task(sample_innodb(engine, samples, stop_sampling))
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        await wait_ready(client, process)
        headers = {"Authorization": f"Bearer {await signed_in(client, 'reader@example.com')}"}
        never = asyncio.Event()
        await phase(client, headers, seconds=2, until=never)  # warm-up
        times, ticks = [time.perf_counter()], [cpu_ticks()]
        result["before"] = await phase(client, headers, seconds=seconds, until=never)
        before = counts(engine)
        started, done = asyncio.Event(), asyncio.Event()
        watcher = asyncio.create_task(watch_purge(engine, started, done))
        await asyncio.wait_for(started.wait(), timeout=30)
        times.append(time.perf_counter())
        ticks.append(cpu_ticks())
        result["during"] = await phase(client, headers, seconds=3600, until=done)
        marks = await watcher
        times.append(time.perf_counter())
        ticks.append(cpu_ticks())
        after = counts(engine)
        result["after"] = await phase(client, headers, seconds=seconds, until=never)
        times.append(time.perf_counter())
        ticks.append(cpu_ticks())
        result["steal"] = {
            when: _steal_percent(ticks[n], ticks[n + 1])
            for n, when in enumerate(("before", "during", "after"))
        }
        stop_sampling.set()
        if sampler is not None:
            await sampler
            result["innodb"] = {
                when: innodb_summary(samples, times[n], times[n + 1])
                for n, when in enumerate(("before", "during", "after"))
            }
        await signed_in(client, "loginer@example.com")
        body = {"email": "loginer@example.com", "password": PASSWORD}

        def login() -> Awaitable[httpx.Response]:
            return client.post("/login", json=body)

        result["logins"] = await load(login, concurrency=8, total=2_000, seconds=seconds)
    engine.dispose()
    result["purge_seconds"] = marks[1] - marks[0]
    result["deleted"] = {table: before[table] - after[table] for table in before}
    result["left"] = after
    return result


def report(label: str, result: dict[str, Any]) -> None:
    seconds = result["purge_seconds"]
    deleted = result["deleted"]
    sessions_rate = deleted["session"] / seconds
    rows_rate = sum(deleted.values()) / seconds
    logins = result["logins"].rate
    print(f"== {label}")
    print(
        f"purge: {sum(deleted.values())} rows in {seconds:.1f} s = {rows_rate:,.0f} rows/s "
        f"({deleted}); sessions {sessions_rate:,.0f}/s; left {result['left']}"
    )
    print(f"logins: {logins:.1f}/s")
    worst = 0.0
    for name, index in (("/auth/check", 0), ("GET /sessions", 1)):
        for when in ("before", "during", "after"):
            run: Run = result[when][index]
            print(
                f"  {name:14s} {when:6s} p50 {run.percentile(50) * 1000:6.1f} ms  "
                f"p99 {run.percentile(99) * 1000:6.1f} ms  ({run.count} ok, {run.errors} errors, "
                f"{run.rate:.0f} req/s)"
            )
        # Without the purge = before and after together: one short window is too noisy a base
        # on a shared machine.
        quiet = Run(latencies=result["before"][index].latencies + result["after"][index].latencies)
        during = result["during"][index].percentile(99)
        worst = max(worst, during / quiet.percentile(99))
        before, after = (result[when][index].percentile(99) for when in ("before", "after"))
        print(
            f"  {name:14s} p99 during / before {during / before:.2f}, / after "
            f"{during / after:.2f}, / both {during / quiet.percentile(99):.2f}"
        )
    for when, summary in result.get("innodb", {}).items():
        print(f"  InnoDB {when:6s} {summary}")
    steal = ", ".join(f"{when} {percent:.1f} %" for when, percent in result["steal"].items())
    print(f"  CPU steal: {steal}")
    ratio = sessions_rate / logins if logins else float("inf")
    print("targets:")
    print(f"  p99 during / without (worst) = {worst:.2f} (<= 1.5)  {_verdict(worst <= 1.5)}")
    print(f"  purged sessions / logins     = {ratio:.0f} x (>= 10)  {_verdict(ratio >= 10)}")
    print(f"  load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def run_backend(label: str, url: str, rows: int, seconds: float, workdir: Path) -> None:
    env = server_env(workdir)
    env.update(DATABASE_URL=url, HOUSEKEEPING_INTERVAL="1", RELAY_IN_APP="false")
    cli = str(BIN / "quart-template")
    subprocess.run([cli, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
    started = time.perf_counter()
    filled = fill(url, rows)
    print(f"{label}: filled {filled} in {time.perf_counter() - started:.1f} s")
    port = free_port()
    process = subprocess.Popen(
        [cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    auth.SERVER_PID = process.pid
    try:
        result = asyncio.run(measure(url, f"http://127.0.0.1:{port}", process, seconds))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    report(label, result)


@contextmanager
def mariadb(url: str) -> Iterator[str]:
    """A throw-away `<name>_bench` database beside TEST_DATABASE_URL."""
    base = make_url(url)
    name = f"{base.database}_bench"
    admin = create_engine(sync_url(url))
    _execute(admin, f"DROP DATABASE IF EXISTS `{name}`")
    _execute(admin, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        _execute(admin, f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


def _execute(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="ended sessions to purge")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="length of the phases before and after"
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="MariaDB only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qt-bench-hk-") as tmp:
        workdir = Path(tmp)
        if not args.skip_sqlite:
            url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
            run_backend("SQLite", url, args.rows, args.seconds, workdir)
        test_url = os.environ.get("TEST_DATABASE_URL")
        if test_url and test_url.startswith("mysql"):
            with mariadb(test_url) as url:
                run_backend("MariaDB", url, args.rows, args.seconds, workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
