"""Login profile: where does a login's server CPU go beyond its one argon2id hash?

Starts `quart-template serve` (a migrated SQLite file in a temporary directory) on a free
loopback port, signs one person up, then keeps 4 logins per CPU in flight (as bench/auth.py's
login phase does) for a few seconds while:

- /proc/PID/task/*/stat splits the server's CPU between the hashing threads (argon2_*), the
  event loop thread (everything in Python: HTTP, Quart, rate limits, SQLAlchemy, JSON) and the
  rest (aiosqlite's connection threads running SQLite itself, threads that came and went);
- py-spy (installed into var/bench-venv/py-spy, never .venv; native frames, so that a thread
  waiting in epoll or for the GIL is told from one computing) samples the event loop thread,
  and its CPU is shared out between the steps of a login by the samples on the CPU.

Prints CPU per login by thread, then the loop thread's share by step. Loopback only; bounded
in seconds; the server is stopped at the end. Numbers move with the machine's other load.

    .venv/bin/python bench/login_profile.py [--seconds 8] [--profile-seconds 15] [--keep-profile F]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import auth
from auth import PASSWORD, free_port, server_env, signed_in

from gateway import BIN, loadavg, migrate, serving, throwaway_venv

# A sample whose innermost native frames wait (epoll, the GIL, a lock) is not CPU: py-spy
# counts such a thread as active, /proc does not.
WAITING = re.compile(r"epoll_p?wait|pthread_cond_(timed)?wait|take_gil|sem_(timed)?wait|futex")
IDLE = "(waiting: epoll, the GIL, locks)"
# The first rule whose pattern occurs in a sampled stack names its step; order matters
# (a rate-limit check inside a request is a rate-limit check, not "Quart").
STEPS: tuple[tuple[str, str], ...] = (
    ("outbox relay (background delivery)", r"events/relay\.py|events/claims\.py"),
    ("rate-limit checks (guard, clear)", r"quart_template/ratelimit\.py|limits/"),
    ("security event (row + log line)", r"quart_template/security/"),
    ("outbox hooks (event rows)", r"events/outbox\.py"),
    ("ORM flush: INSERT session/event rows", r"Session\.flush|orm/persistence|orm/unitofwork"),
    ("commit, end of transaction", r"\bcommit \(|SessionTransaction\.(commit|__aexit__)"),
    ("BEGIN, session, pool checkout", r"_sqlite_begin|_sqlite_pragmas|async_sessionmaker|pool/"),
    (
        "ORM SELECTs: execute, load (2 per login)",
        r"Session\.execute|orm/loading|orm/context|CursorFetchStrategy|_generate_cache_key",
    ),
    ("ORM: building the statements", r"quart_template/accounts/repository\.py"),
    ("BEGIN, session, pool checkout", r"AsyncSession\.|StartableContext|_connection_for"),
    ("SQLAlchemy, other", r"sqlalchemy/"),
    ("aiosqlite hand-offs (loop side)", r"aiosqlite/"),
    ("hash hand-off to the thread pool", r"verify_password|_in_hash_pool|run_in_executor"),
    ("session token (sign, hash, ids)", r"issue_session|itsdangerous|new_entity_id|secrets"),
    ("request: JSON body, validation", r"_check_json_body|get_json|model_validate|pydantic"),
    ("response: user object, JSON", r"reply \(|sign_in_response|user_object|model_dump|json"),
    ("our own code, other (views, services)", r"quart_template/(?!cli\.py|serving)"),
    ("HTTP: Hypercorn, h11", r"hypercorn/|h11/"),
    ("Quart, quart-schema request machinery", r"quart/|quart_schema/"),
    ("event loop (uvloop: sockets, callbacks)", r"asyncio/|uvloop"),
)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each live thread of `pid`."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, float] = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
    return cpu


def parse_profile(raw: str) -> tuple[dict[int, str], collections.Counter[str]]:
    """py-spy's raw format: thread names by native id, and loop-thread samples by step."""
    names: dict[int, str] = {}
    steps: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        head = re.match(r"thread \((\d+)\): ([^;]*)", stack)
        if head is None or not count.isdigit():
            continue
        names[int(head.group(1))] = head.group(2)
        if head.group(2) == "MainThread":
            steps[_step(stack)] += int(count)
    return names, steps


def _step(stack: str) -> str:
    if WAITING.search(";".join(stack.split(";")[-3:])):
        return IDLE
    for name, pattern in STEPS:
        if re.search(pattern, stack):
            return name
    return "other"


async def profile(
    base: str, pid: int, seconds: tuple[float, float], spy: Path | None, keep: Path | None
) -> None:
    """Logins at 4 per CPU: CPU by thread for `seconds[0]`, then `seconds[1]` under py-spy."""
    cpus = os.cpu_count() or 1
    auth.SERVER_PID = pid
    limits = httpx.Limits(max_connections=4 * cpus, max_keepalive_connections=4 * cpus)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await signed_in(client, "loginer@example.com")
        body = {"email": "loginer@example.com", "password": PASSWORD}

        def login() -> Awaitable[httpx.Response]:
            return client.post("/login", json=body)

        await auth.load(login, concurrency=4 * cpus, total=40, seconds=3)  # warm-up
        one_hash, _ = await asyncio.to_thread(auth.hash_limit)
        # CPU by thread without a profiler attached (py-spy pauses the server to sample it).
        before, total_before = thread_cpu(pid), auth.process_cpu(pid)
        run = await auth.load(login, concurrency=4 * cpus, total=10_000, seconds=seconds[0])
        after, total_after = thread_cpu(pid), auth.process_cpu(pid)
        raw = await _sampled(login, pid, seconds[1], spy, keep) if spy else ""
    names, steps = parse_profile(raw)
    report(run, one_hash, pid, names, steps, (before, after, total_after - total_before))


async def _sampled(
    login: Callable[[], Awaitable[httpx.Response]],
    pid: int,
    seconds: float,
    spy: Path,
    keep: Path | None,
) -> str:
    """py-spy's raw profile of the server while logins run for `seconds`."""
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="qt-bench-spy-") as tmp:
        out = Path(tmp) / "login.raw"
        recorder = await asyncio.create_subprocess_exec(
            str(spy), "record", "--pid", str(pid), "--duration", str(round(seconds) + 2),
            "--rate", "250", "--native", "--threads", "--format", "raw", "--output", str(out),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(1)  # py-spy attaches
        await auth.load(login, concurrency=4 * cpus, total=20_000, seconds=seconds)
        await recorder.wait()
        raw = await asyncio.to_thread(_read, out)
    if keep is not None and raw:
        await asyncio.to_thread(keep.write_text, raw)
    return raw


def report(
    run: auth.Run,
    one_hash: float,
    pid: int,
    names: dict[int, str],
    steps: collections.Counter[str],
    cpu: tuple[dict[int, float], dict[int, float], float],
) -> None:
    before, after, total = cpu
    per = 1000 / max(1, run.count)
    used = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    hashing = sum(s for tid, s in used.items() if names.get(tid, "").startswith("argon2"))
    loop = used.get(pid, 0.0)
    rest = total - hashing - loop
    print(f"logins: {run.count} ok, {run.errors} errors, {run.rate:.1f}/s")
    print(f"one argon2id hash (median, this process): {one_hash * 1000:.1f} ms")
    print(
        f"server CPU per login: {total * per:.1f} ms = hashing threads {hashing * per:.1f} ms "
        f"+ event loop thread {loop * per:.1f} ms + SQLite and other threads {rest * per:.1f} ms"
    )
    print(
        f"beyond the hashing threads: {(total - hashing) * per:.1f} ms/login; "
        f"one hash / server CPU per login = {one_hash / max(total / max(1, run.count), 1e-9):.2f} "
        "(bench/auth.py's server-side login efficiency)"
    )
    waiting = steps.pop(IDLE, 0)
    samples = sum(steps.values())
    if not samples:
        print("py-spy recorded nothing: no breakdown of the event loop thread")
        return
    print(
        f"event loop thread ({loop * per:.2f} ms CPU/login; {samples} samples on the CPU, "
        f"{waiting} waiting left out), by step:"
    )
    if samples < 300:
        print("  (few samples: py-spy was starved of CPU; shares are rough, use --profile-seconds)")
    for name, count in steps.most_common():
        share = count / samples
        print(f"  {name:42s} {share * 100:5.1f} %  {share * loop * per:5.2f} ms/login")


async def run(args: argparse.Namespace) -> None:
    print(f"load average at start: {loadavg()}")
    try:
        bin_dir = await asyncio.to_thread(throwaway_venv, "py-spy", ("py-spy",))
        spy: Path | None = bin_dir / "py-spy"
    except RuntimeError as exc:  # no package index: the CPU split by thread still counts
        print(f"py-spy not installed, no breakdown by step: {exc}")
        spy = None
    with tempfile.TemporaryDirectory(prefix="qt-bench-prof-") as tmp:
        workdir = Path(tmp)
        env = server_env(workdir)
        await asyncio.to_thread(migrate, BIN / "quart-template", env, workdir)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [str(BIN / "quart-template"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        async with serving(command, env, workdir, base) as process:
            phases = (args.seconds, args.profile_seconds)
            await profile(base, process.pid, phases, spy, args.keep_profile)
    print(f"load average at end: {loadavg()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the login phase")
    parser.add_argument(
        "--profile-seconds", type=float, default=15.0, help="length of the py-spy phase"
    )
    parser.add_argument("--keep-profile", type=Path, help="copy py-spy's raw profile here")
    started = time.monotonic()
    asyncio.run(run(parser.parse_args()))
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
