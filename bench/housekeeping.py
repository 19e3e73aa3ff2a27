"""Housekeeping benchmark: does a big purge leave the API's latency alone, and does it keep up?

Fills a database with many ended sessions (default 1,000,000: nine in ten expired 40 days ago,
one in ten revoked then, with its `session_audit` row) and one delivered outbox row each, by
bulk inserts straight into the tables. Then starts the real server (`quart-template serve`,
in-app housekeeping) and, under a steady load of `GET /auth/check` and `GET /sessions`, lets
the purge run in slices (`--purge` seconds) with quiet slices (`--quiet` seconds) in between
until it is done: latency (p50/p99) purging and quiet over the same stretch of time, and the
purge rate (rows per second of purging). A slice starts through the shared schedule (the lease
row freed with a run due now, exactly as an interval elapsing would) and ends with the bench
taking the lease, which stops the server's run at its next batch, as another instance's lease
would; a short login phase gives the login rate to compare the purge with.

Targets: API p99 while purging <= 1.5 x its p99 in the quiet slices; purged sessions/s >= 10 x
logins/s.
SQLite always (a file in a temporary directory); MariaDB too when TEST_DATABASE_URL is set
(a throw-away `<name>_bench` database beside it, dropped at the end). Loopback only: the load
generator shares the machine with the server, so the ratios matter more than the numbers.

    .venv/bin/python bench/housekeeping.py [--rows 1000000] [--purge 30] [--quiet 10]
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import Engine, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import auth
from auth import (
    PASSWORD,
    Run,
    cpu_ticks,
    free_port,
    inside,
    load,
    server_env,
    signed_in,
    wait_ready,
)

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


BENCH_HOLDER = "bench"  # who holds the lease while the purge pauses


def hold(engine: Engine) -> None:
    """Take the lease from the running purge: its next batch finds the lease gone, rolls back
    and stops, and the server's task asks in vain until `release`."""
    with engine.begin() as conn:
        conn.execute(update(HousekeepingLease).values(holder=BENCH_HOLDER, expires_at=FAR_AWAY))


def release(engine: Engine) -> datetime:
    """Free the lease with a run due now, as an elapsed interval would; returns when."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(update(HousekeepingLease).values(holder=None, expires_at=now, due_at=now))
    return now


Span = tuple[float, float]  # perf_counter() start and end


@dataclass
class Slices:
    """The quiet slices and the purge slices of one run, and the machine's CPU ticks in each."""

    quiet: list[Span] = field(default_factory=list)
    purge: list[Span] = field(default_factory=list)
    quiet_ticks: list[tuple[float, float]] = field(default_factory=list)
    purge_ticks: list[tuple[float, float]] = field(default_factory=list)


async def alternate(engine: Engine, quiet: float, purge: float, settle: float) -> Slices:
    """Quiet slices and purge slices in turn until the purge is done, so that the API's
    latency with and without it is measured over the same stretch of time (one window before
    and one after moved more between runs than the purge moved the API). A quiet slice
    starts `settle` seconds after a purge slice ends: a batch in flight and what the database
    still does for it (flushing pages) count in neither."""
    loop = asyncio.get_running_loop()
    slices = Slices()

    async def quiet_slice() -> None:
        began, ticks = time.perf_counter(), cpu_ticks()
        await asyncio.sleep(quiet)
        slices.quiet.append((began, time.perf_counter()))
        slices.quiet_ticks.append(_delta(ticks, cpu_ticks()))

    await quiet_slice()
    while True:
        asked = await loop.run_in_executor(None, release, engine)
        began, ticks, taken, done = time.perf_counter(), cpu_ticks(), False, False
        while time.perf_counter() - began < (purge if taken else 30.0):
            holder, due_at = await loop.run_in_executor(None, lease_state, engine)
            if not taken and holder is not None:
                taken, began, ticks = True, time.perf_counter(), cpu_ticks()
            if holder is None and due_at > asked:  # the run finished: given back, rescheduled
                done = True
                break
            await asyncio.sleep(0.02)
        await loop.run_in_executor(None, hold, engine)
        if not taken and not done:
            raise SystemExit("the server did not take the housekeeping lease within 30 s")
        slices.purge.append((began, time.perf_counter()))
        slices.purge_ticks.append(_delta(ticks, cpu_ticks()))
        await asyncio.sleep(settle)
        await quiet_slice()
        if done:
            return slices


def _delta(start: tuple[float, float], end: tuple[float, float]) -> tuple[float, float]:
    return end[0] - start[0], end[1] - start[1]


def _steal_over(ticks: list[tuple[float, float]]) -> float:
    return 100 * sum(s for s, _ in ticks) / max(1.0, sum(t for _, t in ticks))


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


def innodb_summary(samples: list[tuple[float, dict[str, int]]], spans: list[Span]) -> str:
    """MariaDB's counters over `spans`: rates summed over each span's samples."""
    seconds, reads, fsyncs, waits = 0.0, 0, 0, 0
    dirty, history = [0.0], [0]
    for start, end in spans:
        picked = [(at, status) for at, status in samples if start <= at <= end]
        if len(picked) < 2:
            continue
        (t0, first), (t1, last) = picked[0], picked[-1]
        window = [status for _, status in picked]
        seconds += t1 - t0
        reads += last["Innodb_buffer_pool_reads"] - first["Innodb_buffer_pool_reads"]
        fsyncs += last["Innodb_data_fsyncs"] - first["Innodb_data_fsyncs"]
        waits += last["Innodb_buffer_pool_wait_free"] - first["Innodb_buffer_pool_wait_free"]
        dirty += [
            s["Innodb_buffer_pool_pages_dirty"] / s["Innodb_buffer_pool_pages_total"]
            for s in window
        ]
        history += [s.get("Innodb_history_list_length", 0) for s in window]
    if not seconds:
        return "too short to say"
    return (
        f"dirty pages max {max(dirty) * 100:.0f} %, history list max {max(history):,}, "
        f"disk reads {reads / seconds:,.0f}/s, free-page waits {waits}, "
        f"fsyncs {fsyncs / seconds:,.0f}/s"
    )


async def measure(
    url: str, base_url: str, process: subprocess.Popen[bytes], args: argparse.Namespace
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
        before = counts(engine)
        done = asyncio.Event()
        load_task = asyncio.create_task(phase(client, headers, seconds=7200, until=done))
        slices = await alternate(engine, args.quiet, args.purge, args.settle)
        done.set()
        runs = await load_task
        after = counts(engine)
        stop_sampling.set()
        if sampler is not None:
            await sampler
            result["innodb"] = {
                "quiet": innodb_summary(samples, slices.quiet),
                "purge": innodb_summary(samples, slices.purge),
            }
        result["quiet"] = [inside(run, slices.quiet) for run in runs]
        result["purge"] = [inside(run, slices.purge) for run in runs]
        result["slices"] = slices
        result["load"] = runs
        await signed_in(client, "loginer@example.com")
        body = {"email": "loginer@example.com", "password": PASSWORD}

        def login() -> Awaitable[httpx.Response]:
            return client.post("/login", json=body)

        result["logins"] = await load(login, concurrency=8, total=2_000, seconds=args.quiet)
    engine.dispose()
    result["purge_seconds"] = sum(end - start for start, end in slices.purge)
    result["deleted"] = {table: before[table] - after[table] for table in before}
    result["left"] = after
    return result


def report(label: str, result: dict[str, Any]) -> None:
    seconds = result["purge_seconds"]
    deleted = result["deleted"]
    sessions_rate = deleted["session"] / seconds
    rows_rate = sum(deleted.values()) / seconds
    logins = result["logins"].rate
    slices: Slices = result["slices"]
    print(f"== {label}")
    print(
        f"purge: {sum(deleted.values())} rows in {seconds:.1f} s of purging = {rows_rate:,.0f} "
        f"rows/s ({deleted}); sessions {sessions_rate:,.0f}/s; left {result['left']}"
    )
    print(
        f"slices: {len(slices.purge)} purging ({seconds:.0f} s), {len(slices.quiet)} quiet "
        f"({sum(end - start for start, end in slices.quiet):.0f} s); CPU steal "
        f"{_steal_over(slices.purge_ticks):.1f} % purging, "
        f"{_steal_over(slices.quiet_ticks):.1f} % quiet"
    )
    print(f"logins: {logins:.1f}/s")
    worst = 0.0
    for name, index in (("/auth/check", 0), ("GET /sessions", 1)):
        for when in ("quiet", "purge"):
            run: Run = result[when][index]
            print(
                f"  {name:14s} {when:6s} p50 {run.percentile(50) * 1000:6.1f} ms  "
                f"p99 {run.percentile(99) * 1000:6.1f} ms  ({run.count} ok, "
                f"{run.rate:.0f} req/s)"
            )
        first, last = (
            inside(result["load"][index], [span]).percentile(99) * 1000
            for span in (slices.quiet[0], slices.quiet[-1])
        )
        print(
            f"  {name:14s} quiet p99 before the first purge slice {first:.1f} ms, "
            f"after the last {last:.1f} ms"
        )
        quiet, purging = (result[when][index].percentile(99) for when in ("quiet", "purge"))
        worst = max(worst, purging / quiet)
    for when, summary in result.get("innodb", {}).items():
        print(f"  InnoDB {when:6s} {summary}")
    ratio = sessions_rate / logins if logins else float("inf")
    print("targets:")
    print(f"  p99 purging / quiet (worst) = {worst:.2f} (<= 1.5)  {_verdict(worst <= 1.5)}")
    print(f"  purged sessions / logins     = {ratio:.0f} x (>= 10)  {_verdict(ratio >= 10)}")
    print(f"  load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def run_backend(label: str, url: str, args: argparse.Namespace, workdir: Path) -> None:
    env = server_env(workdir)
    env.update(DATABASE_URL=url, HOUSEKEEPING_INTERVAL="1", RELAY_IN_APP="false")
    cli = str(BIN / "quart-template")
    subprocess.run([cli, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
    started = time.perf_counter()
    filled = fill(url, args.rows)
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
        result = asyncio.run(measure(url, f"http://127.0.0.1:{port}", process, args))
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
    parser.add_argument("--purge", type=float, default=30.0, help="seconds of each purge slice")
    parser.add_argument("--quiet", type=float, default=10.0, help="seconds of each quiet slice")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds after a purge slice in neither"
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="MariaDB only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qt-bench-hk-") as tmp:
        workdir = Path(tmp)
        if not args.skip_sqlite:
            url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
            run_backend("SQLite", url, args, workdir)
        test_url = os.environ.get("TEST_DATABASE_URL")
        if test_url and test_url.startswith("mysql"):
            with mariadb(test_url) as url:
                run_backend("MariaDB", url, args, workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
