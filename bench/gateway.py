"""Gateway benchmark: can a reverse proxy ask `/auth/check` (or `/me`) on every request?

Starts the real server (`quart-template serve`, a migrated SQLite file in a temporary directory,
and a MariaDB database `qt_bench` on the server of TEST_DATABASE_URL when that is set) on a free
loopback port and measures, with `wrk` (1 thread, 32 connections; the httpx generator of
bench/auth.py when wrk is not installed):

- req/s of bare `GET /`, `GET /me`, `GET /auth/check` and `GET /sessions`, and each as a ratio
  to bare `GET /` (target >= 0.6 for `/me` and `/auth/check`);
- p99 of `/auth/check` at 32 connections (target < 20 ms) and, sent at a steady 100/s, while
  logins saturate the CPUs (target < 50 ms);
- the peer: fastapi-users 15 `GET /users/me` (database token strategy, SQLite, uvicorn), in a
  throwaway venv under var/bench-venv/ (skip with --no-peer); target: ours >= 3 x the peer;
- `quart-template serve --server uvicorn` (the real CLI, the `uvicorn` extra of .venv) on SQLite:
  bare `GET /`, `GET /me` and `GET /auth/check` beside Hypercorn's, and the p99 target of
  `/auth/check` at 32 connections (skip with --no-uvicorn);
- the ASGI server: Hypercorn (ours) against Uvicorn and Granian serving `quart_template.asgi:app`
  for bare `GET /` and `GET /sessions`, from a second throwaway venv (skip with --no-servers).

A route that the server does not have yet answers 404 to the first probe: it is reported as
"route missing" and not measured. Every phase is bounded in seconds; every server is stopped at
the end. Loopback only; the load generator shares the CPUs, so absolute numbers are low bounds.

    .venv/bin/python bench/gateway.py [--seconds 5] [--no-peer] [--no-uvicorn] [--no-servers]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import auth
from auth import PASSWORD, free_port, server_env, signed_in

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
VENVS = ROOT / "var" / "bench-venv"
PEER_REQUIREMENTS = ("fastapi-users[sqlalchemy]>=15,<16", "uvicorn[standard]", "aiosqlite")
SERVER_REQUIREMENTS = ("uvicorn[standard]", "granian")
CONNECTIONS = 32
CHECK_RATE = 100  # checks/s while logins saturate: a gateway's steady trickle, not a flood
BENCH_DATABASE = "qt_bench"


@dataclass
class Result:
    """One measured phase: rate, latency percentiles and the server's CPU per request."""

    label: str
    rate: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    ok: int = 0
    errors: int = 0
    cpu_ms: float = float("nan")
    missing: str = ""

    def line(self) -> str:
        if self.missing:
            return f"{self.label:30s} {self.missing}"
        cpu = "" if math.isnan(self.cpu_ms) else f"  server {self.cpu_ms:5.2f} ms CPU/req"
        return (
            f"{self.label:30s} {self.rate:8.1f} req/s  p50 {self.p50_ms:6.1f} ms  "
            f"p99 {self.p99_ms:6.1f} ms{cpu}  ({self.ok} ok, {self.errors} errors)"
        )


# --- processes ----------------------------------------------------------------------------


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and its live descendants (Granian forks its workers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(auth.process_cpu(pid) for pid in tree)


@contextlib.asynccontextmanager
async def serving(
    command: Sequence[str], env: dict[str, str], cwd: Path, base_url: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a server, wait until `GET /` answers, SIGTERM it (then SIGKILL) at the end."""
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
            await _wait_ready(client, process, command[0])
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _wait_ready(
    client: httpx.AsyncClient, process: asyncio.subprocess.Process, name: str
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get("/")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not answer GET / in 60 s")


def migrate(cli: Path, env: dict[str, str], workdir: Path) -> None:
    """`quart-template migrate` on the database of `env` (run off the event loop)."""
    subprocess.run([str(cli), "migrate"], env=env, cwd=workdir, check=True, capture_output=True)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def throwaway_venv(name: str, requirements: Sequence[str]) -> Path:
    """var/bench-venv/NAME with `requirements`, reused while they are the same; never .venv."""
    venv = VENVS / name
    stamp = venv / ".requirements"
    wanted = "\n".join(requirements)
    if not (stamp.exists() and stamp.read_text() == wanted):
        print(f"installing {' '.join(requirements)} into {venv} ...", flush=True)
        made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=False)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        installed = subprocess.run([*pip, *requirements], capture_output=True, text=True)
        if made.returncode or installed.returncode:
            raise RuntimeError(f"pip install failed:\n{installed.stdout}{installed.stderr}")
        stamp.write_text(wanted)
    return venv / "bin"


# --- load ---------------------------------------------------------------------------------

WRK_TIME = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


async def hammer(
    label: str,
    url: str,
    *,
    server: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    connections: int = CONNECTIONS,
) -> Result:
    """`connections` keep-alive connections GET `url` for `seconds`; only 200s count as ok."""
    cpu = tree_cpu(server)
    if shutil.which("wrk"):
        result = await _wrk(label, url, seconds, headers or {}, connections)
    else:
        result = await _httpx(label, url, seconds, headers or {}, connections)
    result.cpu_ms = (tree_cpu(server) - cpu) * 1000 / max(1, result.ok + result.errors)
    return result


async def _wrk(
    label: str, url: str, seconds: float, headers: dict[str, str], connections: int
) -> Result:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    process = await asyncio.create_subprocess_exec(
        *command, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out = (await process.communicate())[0].decode()
    total = int(_match(r"(\d+) requests in", out))
    bad = int(_match(r"Non-2xx or 3xx responses: (\d+)", out, "0"))
    socket = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
    return Result(
        label,
        rate=float(_match(r"Requests/sec:\s+([\d.]+)", out)) * (total - bad) / max(1, total),
        p50_ms=_wrk_latency(out, "50%"),
        p99_ms=_wrk_latency(out, "99%"),
        ok=total - bad,
        errors=bad + sum(int(n) for n in re.findall(r"\d+", socket.group(1) if socket else "")),
    )


def _match(pattern: str, text: str, default: str | None = None) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    if found is None:
        if default is None:
            raise RuntimeError(f"wrk said something unexpected:\n{text}")
        return default
    return found.group(1)


def _wrk_latency(out: str, percent: str) -> float:
    found = re.search(rf"^\s+{percent}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    return float(found.group(1)) * WRK_TIME[found.group(2)] if found else float("nan")


async def _httpx(
    label: str, url: str, seconds: float, headers: dict[str, str], connections: int
) -> Result:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        def get() -> Awaitable[httpx.Response]:
            return client.get(url, headers=headers)

        run = await auth.load(get, concurrency=connections, total=10**7, seconds=seconds)
    return Result(
        label,
        rate=run.rate,
        p50_ms=run.percentile(50) * 1000,
        p99_ms=run.percentile(99) * 1000,
        ok=run.count,
        errors=run.errors,
    )


async def probe(client: httpx.AsyncClient, label: str, path: str, token: str) -> Result | None:
    """None when `path` answers 200 to the token; else a Result that says why it is skipped."""
    response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 200:
        return None
    missing = "route missing" if response.status_code in (404, 405) else "not measured"
    return Result(label, missing=f"{missing} (answered {response.status_code})")


# --- our server ---------------------------------------------------------------------------


@dataclass
class Ours:
    """Our numbers on one database."""

    database: str
    phases: dict[str, Result]
    under_logins: Result
    logins: str


CHECKS = {"GET /me": "/me", "GET /auth/check": "/auth/check"}


@dataclass
class Served:
    """Our server, up, with a reader signed in: what each phase needs."""

    base: str
    pid: int
    bearer: dict[str, str]
    skipped: dict[str, Result | None]  # a check route the server lacks: why it is not measured

    @property
    def checks(self) -> dict[str, tuple[str, dict[str, str]]]:
        return {label: (path, self.bearer) for label, path in CHECKS.items()}


@contextlib.asynccontextmanager
async def serve_ours(env: dict[str, str], workdir: Path, server: str) -> AsyncIterator[Served]:
    """`quart-template serve --server SERVER` (the real CLI) on a migrated database, a reader
    and a login-er signed in, the check routes probed, and warmed up."""
    cli = BIN / "quart-template"
    await asyncio.to_thread(migrate, cli, env, workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), "--server", server]
    async with serving(command, env, workdir, base) as process:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            token = await signed_in(client, "reader@example.com")
            await signed_in(client, "loginer@example.com")
            skipped = {k: await probe(client, k, path, token) for k, path in CHECKS.items()}
        bearer = {"Authorization": f"Bearer {token}"}
        await hammer("warm-up", f"{base}/sessions", server=process.pid, seconds=2, headers=bearer)
        yield Served(base, process.pid, bearer, skipped)


async def hammer_each(
    served: Served, paths: dict[str, tuple[str, dict[str, str]]], seconds: float
) -> dict[str, Result]:
    """Each path in turn at 32 connections; a check route the server lacks is reported."""
    phases: dict[str, Result] = {}
    for label, (path, headers) in paths.items():
        if (missing := served.skipped.get(label)) is not None:
            phases[label] = missing
            continue
        phases[label] = await hammer(
            label, served.base + path, server=served.pid, seconds=seconds, headers=headers
        )
    return phases


async def measure_ours(database: str, env: dict[str, str], workdir: Path, seconds: float) -> Ours:
    """Under Hypercorn: each GET at 32 connections, then `/auth/check` while logins run."""
    async with serve_ours(env, workdir, "hypercorn") as served:
        paths = {"bare GET /": ("/", {}), "GET /sessions": ("/sessions", served.bearer)}
        phases = await hammer_each(served, paths | served.checks, seconds)
        missing = served.skipped["GET /auth/check"]
        under, logins = await under_login_load(
            served.base, served.pid, served.bearer, seconds, missing
        )
    return Ours(database, phases, under, logins)


async def measure_uvicorn(seconds: float) -> dict[str, Result]:
    """The gateway GETs under `serve --server uvicorn`, on SQLite as Hypercorn's first run."""
    with tempfile.TemporaryDirectory(prefix="qt-bench-gw-") as tmp:
        workdir = Path(tmp)
        async with serve_ours(server_env(workdir), workdir, "uvicorn") as served:
            return await hammer_each(served, {"bare GET /": ("/", {})} | served.checks, seconds)


async def under_login_load(
    base: str, server: int, bearer: dict[str, str], seconds: float, missing: Result | None
) -> tuple[Result, str]:
    """`/auth/check` at a steady CHECK_RATE while 4 logins per CPU keep the hash threads busy."""
    label = f"GET /auth/check {CHECK_RATE}/s, logins"
    if missing is not None:
        return Result(label, missing=missing.missing), ""
    cpus = os.cpu_count() or 1
    body = {"email": "loginer@example.com", "password": PASSWORD}
    auth.SERVER_PID = server
    limits = httpx.Limits(max_connections=4 * cpus, max_keepalive_connections=4 * cpus)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        def login() -> Awaitable[httpx.Response]:
            return client.post("/login", json=body)

        stop = asyncio.Event()
        logins = asyncio.create_task(
            auth.load(login, concurrency=4 * cpus, total=10_000, seconds=seconds + 3, stop=stop)
        )
        await asyncio.sleep(1)  # let the logins saturate first
        cpu, started = tree_cpu(server), time.perf_counter()
        result = await paced(label, f"{base}/auth/check", bearer, seconds)
        busy = (tree_cpu(server) - cpu) / (time.perf_counter() - started)
        stop.set()
        run = await logins
    _, limit = await asyncio.to_thread(auth.hash_limit)
    return result, (
        f"{run.rate:.1f} logins/s = {run.rate / limit:.2f} x the hash limit of {limit:.0f}/s "
        f"({run.count} ok, {run.errors} errors); the server used {busy:.2f} of {cpus} CPUs"
    )


async def paced(label: str, url: str, headers: dict[str, str], seconds: float) -> Result:
    """GETs sent at a steady CHECK_RATE however slow the answers (no coordinated omission:
    a latency counts from when its request was due)."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def one(due: float) -> None:
            nonlocal errors
            try:
                ok = (await client.get(url, headers=headers)).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - due)
            else:
                errors += 1

        start = time.perf_counter()
        tasks = []
        for i in range(int(CHECK_RATE * seconds)):
            due = start + i / CHECK_RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    ordered = sorted(latencies) or [float("nan")]
    return Result(
        label,
        rate=len(latencies) / elapsed,
        p50_ms=ordered[len(ordered) // 2] * 1000,
        p99_ms=ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)] * 1000,
        ok=len(latencies),
        errors=errors,
    )


@contextlib.asynccontextmanager
async def mariadb_database(test_url: str) -> AsyncIterator[str]:
    """A fresh `qt_bench` database on TEST_DATABASE_URL's server, dropped at the end."""
    import aiomysql
    from sqlalchemy.engine import make_url

    url = make_url(test_url)
    connect = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 3306,
        "user": url.username or "root",
        "password": url.password or "",
    }

    async def execute(statement: str) -> None:
        connection = await aiomysql.connect(**connect)
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(statement)
        finally:
            connection.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Can't drop database": it did not exist yet
        await execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
    await execute(f"CREATE DATABASE {BENCH_DATABASE} CHARACTER SET utf8mb4")
    try:
        yield url.set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    finally:
        await execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")


# --- the peer -----------------------------------------------------------------------------


async def measure_peer(seconds: float) -> dict[str, Result]:
    """fastapi-users `GET /users/me` (and its bare `GET /`) with a database token, on SQLite."""
    bin_dir = await asyncio.to_thread(throwaway_venv, "peer", PEER_REQUIREMENTS)
    with tempfile.TemporaryDirectory(prefix="qt-bench-peer-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PEER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/peer.db"}
        command = [
            str(bin_dir / "uvicorn"), "peer_fastapi_users:app", "--app-dir",
            str(ROOT / "bench" / "peers"), "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        async with serving(command, env, Path(tmp), base) as process:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                token = await _peer_token(client)
            bearer = {"Authorization": f"Bearer {token}"}
            url = f"{base}/users/me"
            await hammer("warm-up", url, server=process.pid, seconds=2, headers=bearer)
            return {
                "peer bare GET /": await hammer(
                    "peer bare GET /", f"{base}/", server=process.pid, seconds=seconds
                ),
                "peer GET /users/me": await hammer(
                    "peer GET /users/me", url, server=process.pid, seconds=seconds, headers=bearer
                ),
            }


async def _peer_token(client: httpx.AsyncClient) -> str:
    """Register one user and log in through fastapi-users' own routes."""
    email = "reader@example.com"
    created = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = await client.post("/auth/login", data={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token: str = login.json()["access_token"]
    return token


# --- ASGI servers -------------------------------------------------------------------------


def server_commands(bin_dir: Path, port: int) -> dict[str, list[str]]:
    """The same app under each server: one process, uvloop, no access log."""
    where = ["--host", "127.0.0.1", "--port", str(port)]
    app = "quart_template.asgi:app"
    return {
        "Hypercorn (ours)": [str(bin_dir / "quart-template"), "serve", *where],
        "Uvicorn": [str(bin_dir / "uvicorn"), app, *where, "--loop", "uvloop", "--http",
                    "httptools", "--no-access-log", "--log-level", "warning"],
        "Granian": [str(bin_dir / "granian"), "--interface", "asgi", *where, "--loop", "uvloop",
                    "--workers", "1", "--log-level", "warning", app],
    }  # fmt: skip


async def measure_servers(seconds: float) -> dict[str, dict[str, Result]]:
    """Bare `GET /` and `GET /sessions` of `quart_template.asgi:app` under each server."""
    requirements = (f"-e{ROOT}[speed]", *SERVER_REQUIREMENTS)
    bin_dir = await asyncio.to_thread(throwaway_venv, "asgi", requirements)
    table: dict[str, dict[str, Result]] = {}
    for name in server_commands(bin_dir, 0):
        with tempfile.TemporaryDirectory(prefix="qt-bench-asgi-") as tmp:
            workdir = Path(tmp)
            env = server_env(workdir)
            await asyncio.to_thread(migrate, bin_dir / "quart-template", env, workdir)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            command = server_commands(bin_dir, port)[name]
            async with serving(command, env, workdir, base) as process:
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    bearer = {"Authorization": f"Bearer {await signed_in(client, 'r@x.org')}"}
                await hammer("warm-up", f"{base}/sessions", server=process.pid, seconds=2,
                             headers=bearer)  # fmt: skip
                table[name] = {
                    "bare GET /": await hammer(
                        "bare GET /", f"{base}/", server=process.pid, seconds=seconds
                    ),
                    "GET /sessions": await hammer(
                        "GET /sessions", f"{base}/sessions", server=process.pid,
                        seconds=seconds, headers=bearer,
                    ),
                }  # fmt: skip
    return table


# --- report -------------------------------------------------------------------------------


def report_ours(ours: Ours) -> None:
    bare = ours.phases["bare GET /"].rate
    print(f"\n-- ours on {ours.database} (wrk: {bool(shutil.which('wrk'))}, {CONNECTIONS} conns)")
    for result in ours.phases.values():
        ratio = f"  = {result.rate / bare:.2f} x bare" if result.rate and bare else ""
        print(result.line() + ratio)
    print(ours.under_logins.line())
    if ours.logins:
        print(f"{'  meanwhile':30s} {ours.logins}")
    print("targets:")
    for label in ("GET /me", "GET /auth/check"):
        result = ours.phases[label]
        if result.missing:
            print(f"  {label}: {result.missing}")
        else:
            _target(f"{label} / bare GET /", result.rate / bare, ">=", 0.6)
    check = ours.phases["GET /auth/check"]
    if not check.missing:
        _target(f"p99 /auth/check at {CONNECTIONS} conns (ms)", check.p99_ms, "<", 20)
    if not ours.under_logins.missing:
        _target("p99 /auth/check under logins (ms)", ours.under_logins.p99_ms, "<", 50)


def report_uvicorn(ours: Ours, uvicorn: dict[str, Result]) -> None:
    print(f"\n-- serve --server uvicorn on SQLite ({CONNECTIONS} conns), beside Hypercorn's run")
    for label, result in uvicorn.items():
        hypercorn = ours.phases.get(label)
        beside = ""
        if hypercorn and hypercorn.rate and result.rate:
            beside = (
                f"  | Hypercorn {hypercorn.rate:7.1f} req/s p99 {hypercorn.p99_ms:5.1f} ms"
                f"  = {result.rate / hypercorn.rate:.2f} x"
            )
        print(result.line() + beside)
    check = uvicorn["GET /auth/check"]
    print("targets:")
    if check.missing:
        print(f"  GET /auth/check: {check.missing}")
    else:
        _target(f"p99 /auth/check at {CONNECTIONS} conns (uvicorn)", check.p99_ms, "<", 20)


def report_peer(ours: Ours, peer: dict[str, Result]) -> None:
    print("\n-- the peer: fastapi-users 15, database token strategy, SQLite, uvicorn")
    for result in peer.values():
        print(result.line())
    theirs = peer["peer GET /users/me"].rate
    print("targets:")
    for label in ("GET /auth/check", "GET /me"):
        result = ours.phases[label]
        if result.missing:
            print(f"  {label} / peer GET /users/me: {result.missing}")
        elif theirs:
            _target(f"{label} / peer GET /users/me", result.rate / theirs, ">=", 3.0)


def report_servers(table: dict[str, dict[str, Result]]) -> None:
    print("\n-- ASGI servers, quart_template.asgi:app on SQLite (req/s; x Hypercorn)")
    base = table.get("Hypercorn (ours)", {})
    for name, results in table.items():
        cells = []
        for label, result in results.items():
            ours = base[label].rate if label in base else 0.0
            times = f" ({result.rate / ours:.2f} x)" if ours else ""
            cells.append(
                f"{label} {result.rate:7.1f}{times} p99 {result.p99_ms:5.1f} ms "
                f"{result.cpu_ms:4.2f} ms CPU"
            )
        print(f"{name:18s} " + "  |  ".join(cells))


def _target(label: str, value: float, op: str, goal: float) -> None:
    met = value >= goal if op == ">=" else value < goal
    print(f"  {label:42s} = {value:7.2f} ({op} {goal})  {'ok' if met else 'MISSED'}")


# --- main ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    print(f"load average at start: {loadavg()}")
    if not shutil.which("wrk"):
        print(
            "wrk is not installed (apt-get install -y wrk): using the httpx generator, which is"
            " then the bottleneck, so every ratio reads close to 1"
        )
    results: list[Ours] = []
    with tempfile.TemporaryDirectory(prefix="qt-bench-gw-") as tmp:
        workdir = Path(tmp)
        results.append(await measure_ours("SQLite", server_env(workdir), workdir, args.seconds))
    uvicorn: dict[str, Result] | None = None
    if args.no_uvicorn:
        print("serve --server uvicorn: skipped (--no-uvicorn)")
    else:
        try:
            uvicorn = await measure_uvicorn(args.seconds)
        except RuntimeError as exc:  # the uvicorn extra not installed, say: serve exits 2
            print(f"serve --server uvicorn: not measured: {exc}")
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    if test_url.startswith("mysql"):
        async with mariadb_database(test_url) as url:
            with tempfile.TemporaryDirectory(prefix="qt-bench-gw-") as tmp:
                env = server_env(Path(tmp)) | {"DATABASE_URL": url}
                results.append(await measure_ours("MariaDB", env, Path(tmp), args.seconds))
    else:
        print("TEST_DATABASE_URL is not a MariaDB URL: MariaDB skipped")
    for ours in results:
        report_ours(ours)
    if uvicorn is not None:
        report_uvicorn(results[0], uvicorn)
    if args.no_peer:
        print("\n-- the peer: skipped (--no-peer)")
    else:
        try:
            report_peer(results[0], await measure_peer(args.seconds))
        except RuntimeError as exc:  # no package index, say: the rest still counts
            print(f"\n-- the peer: not measured: {exc}")
    if args.no_servers:
        print("\n-- ASGI servers: skipped (--no-servers)")
    else:
        try:
            report_servers(await measure_servers(args.seconds))
        except RuntimeError as exc:
            print(f"\n-- ASGI servers: not measured: {exc}")
    print(f"\nload average at end: {loadavg()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--no-peer", action="store_true", help="skip the fastapi-users peer")
    parser.add_argument(
        "--no-uvicorn", action="store_true", help="skip `serve --server uvicorn` on SQLite"
    )
    parser.add_argument("--no-servers", action="store_true", help="skip Uvicorn and Granian")
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
