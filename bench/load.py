"""Load test: a mixed workload at fixed arrival rates against 1 and 2 instances on MariaDB +
Redis + RabbitMQ, as users deploy the service.

Each instance is a real `quart-template serve` on a free loopback port, on one throw-away MariaDB
database (`qt_bench` on TEST_DATABASE_URL's server, default root@127.0.0.1:3306), the local
Redis (rate limits and revocations) and RabbitMQ (a throw-away exchange; in-app relays). Requests
are sent open-loop: on a fixed schedule at the phase's rate, spread round-robin over the
instances, and each one's latency counts from when it was due (a slow server cannot slow the
arrivals down and hide its own queueing). The mix, by weight:

    /auth/check 30, GET /me 25, POST /login 15, GET /sessions 10,
    POST /signup 5, POST /verify/<token>/<uid> 5, POST /forgot_password 5, POST /login_mfa 5

After a 5 s warm-up (not counted), rates rise (5, 10, 20, 40, 80, 160 /s by default, --seconds
each) until p99 passes 2 s (saturated); the table prints per operation p50/p99 and errors,
then the highest rate that kept p99 < 200 ms with 0 errors, the RSS of every instance and its
start-to-ready time. Bounded in time and requests; loopback only; the generator shares the CPUs
with the servers (absolute numbers are low bounds for a machine with more cores).

    .venv/bin/python bench/load.py [--seconds 10] [--rates 5,10,20,40,80,160] [--instances 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from auth import PASSWORD, free_port

from gateway import loadavg, mariadb_database, migrate

BIN = Path(sys.executable).parent
CLI = BIN / "quart-template"
SECRET, SALT = "bench-secret-key-0123456789-abcdefghij", "bench-salt-0123456789"
TARGET_P99_MS = 200.0
GIVE_UP_P99_MS = 2000.0
WARM_UP_SECONDS = 5.0
MAX_IN_FLIGHT = 2000
MIX = (
    ("auth_check", 30),
    ("me", 25),
    ("login", 15),
    ("sessions", 10),
    ("signup", 5),
    ("verify", 5),
    ("forgot", 5),
    ("login_mfa", 5),
)


def instance_env(database_url: str, workdir: Path, exchange: str) -> dict[str, str]:
    """Production-like settings for every instance; limits high (the load comes from one IP)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return keep | {
        "APP_ENV": "development",
        "SECRET_KEY": SECRET,
        "SECURITY_PASSWORD_SALT": SALT,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "AMQP_URL": os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        "MQ_EXCHANGE": exchange,
        "EMAIL_BACKEND": "console",
        "LOG_LEVEL": "WARNING",
        "HOUSEKEEPING_INTERVAL": "0",
        "REAUTH_MAX_AGE": "3600",
        "LOGIN_LIMIT_PER_IP": "10000000/minute",
        "LOGIN_LIMIT_PER_ACCOUNT": "10000000/minute",
        "LOGIN_LIMIT_PER_ACCOUNT_ALL_IPS": "10000000/minute",
        "SIGNUP_LIMIT_PER_IP": "10000000/minute",
        "EMAIL_LIMIT_PER_ADDRESS": "10000000/minute",
        "EMAIL_LIMIT_PER_IP": "10000000/minute",
    }


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    base: str
    ready_seconds: float

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


@contextlib.asynccontextmanager
async def instances(
    count: int, env: dict[str, str], workdir: Path
) -> AsyncIterator[list[Instance]]:
    """`count` instances, each timed from start to its first 200 from /readyz; stopped after."""
    started: list[Instance] = []
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            for n in range(count):
                port = free_port()
                begun = time.monotonic()
                process = subprocess.Popen(  # noqa: ASYNC220 - timed from here
                    [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env,
                    cwd=workdir,
                    stdout=subprocess.DEVNULL,
                    stderr=(workdir / f"serve-{n}.log").open("wb"),
                )
                base = f"http://127.0.0.1:{port}"
                while True:
                    if process.poll() is not None:
                        raise SystemExit(f"instance {n} exited: see {workdir}/serve-{n}.log")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{base}/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.02)
                started.append(Instance(process, base, time.monotonic() - begun))
        yield started
    finally:
        for instance in started:
            instance.process.terminate()
        for instance in started:
            try:
                instance.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                instance.process.kill()


@dataclass
class People:
    """Who the workload acts as: verified people with tokens, MFA people with their secrets,
    and people signed up during the run whose verification is still to do."""

    tokens: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    mfa: list[tuple[str, str]] = field(default_factory=list)  # (email, TOTP secret)
    mfa_step: dict[str, int] = field(default_factory=dict)  # the TOTP step each last used
    unverified: list[tuple[str, str]] = field(default_factory=list)  # (email, entity_id)


async def prepare(base: str, database_url: str, people: int = 80, pending: int = 200) -> People:
    """Sign up `people` (half of them with MFA) and `pending` more who have not confirmed their
    address yet (with their ids, for the verification links) through the API, outside the
    timing."""
    found = People()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        emails = [f"pending-{n}-{uuid.uuid4().hex[:8]}@example.com" for n in range(pending)]
        for email in emails:
            body = {"email": email, "password": PASSWORD, "first_name": "Pe", "last_name": "N"}
            assert (await client.post("/signup", json=body)).status_code in (200, 201)
        ids = await _entity_ids(database_url, emails)
        found.unverified = [(email, ids[email]) for email in emails]
        for n in range(people):
            email = f"load-{n}-{uuid.uuid4().hex[:8]}@example.com"
            body = {"email": email, "password": PASSWORD, "first_name": "Lo", "last_name": "Ad"}
            assert (await client.post("/signup", json=body)).status_code in (200, 201)
            login = await client.post("/login", json={"email": email, "password": PASSWORD})
            token = login.json()["user"]["access_token"]
            if n % 2 == 0:
                found.mfa.append((email, await _enable_mfa(client, token)))
                found.mfa_step[email] = int(time.time()) // 30  # set-up spent this step's code
                continue
            found.tokens.append(token)
            found.emails.append(email)
    return found


async def _enable_mfa(client: httpx.AsyncClient, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    qrcode = await client.post("/qrcode", json={"password": PASSWORD}, headers=headers)
    secret: str = qrcode.json()["secret"]
    code = pyotp.TOTP(secret).now()
    verified = await client.post("/verify_otp", json={"otp": code}, headers=headers)
    assert verified.status_code == 200, verified.text
    enable = {"mfa_enabled": True, "otp": code}  # the code that confirmed set-up, once
    enabled = await client.post("/setup_mfa", json=enable, headers=headers)
    assert enabled.status_code == 200, enabled.text
    return secret


async def _entity_ids(database_url: str, emails: list[str]) -> dict[str, str]:
    """The ids the sign-ups got (read from the database, as the email link would carry)."""
    import aiomysql
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    connection = await aiomysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, db=url.database
    )
    try:
        async with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * len(emails))
            await cursor.execute(
                f"SELECT email, entity_id FROM person WHERE email IN ({marks})",
                emails,
            )
            return {str(email): str(entity_id) for email, entity_id in await cursor.fetchall()}
    finally:
        connection.close()


def verification_link(email: str, entity_id: str) -> str:
    """The path of the link the sign-up email carries (minted with the instances' secret)."""
    from quart_template.accounts.models import Person
    from quart_template.accounts.tokens import encode_uid, make_verification_token
    from quart_template.settings import Settings

    settings = Settings.model_construct(secret_key=SECRET, security_password_salt=SALT)
    token = make_verification_token(Person(entity_id=entity_id, email=email), settings)
    return f"/verify/{token}/{encode_uid(entity_id)}"


async def settled(base: str, within: float = 120.0) -> None:
    """Until the preparation's emails and events are delivered: the phases start from quiet."""
    end = time.monotonic() + within
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < end:
            outbox = (await client.get("/metrics.json")).json()["outbox"]
            if not outbox["pending"]:
                return
            await asyncio.sleep(0.5)


@dataclass
class Phase:
    rate: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def p99_ms(self) -> float:
        every = sorted(itertools.chain.from_iterable(self.latencies.values()))
        return every[min(len(every) - 1, len(every) * 99 // 100)] * 1000 if every else 0.0

    def ok(self) -> bool:
        return not sum(self.errors.values()) and self.p99_ms() < TARGET_P99_MS


class Workload:
    """One request of a kind: sent, timed from when it was due, its failure counted."""

    def __init__(self, people: People, database_url: str) -> None:
        self.people = people
        self.database_url = database_url
        self.turn = itertools.count()

    async def send(self, client: httpx.AsyncClient, kind: str) -> httpx.Response:
        n = next(self.turn)
        people = self.people
        token = people.tokens[n % len(people.tokens)]
        auth = {"Authorization": f"Bearer {token}"}
        if kind == "auth_check":
            return await client.get("/auth/check", headers=auth)
        if kind == "me":
            return await client.get("/me", headers=auth)
        if kind == "sessions":
            return await client.get("/sessions", headers=auth)
        if kind == "login":
            email = people.emails[n % len(people.emails)]
            return await client.post("/login", json={"email": email, "password": PASSWORD})
        if kind == "forgot":
            return await client.post("/forgot_password", json={"email": people.emails[0]})
        if kind == "signup":
            email = f"new-{uuid.uuid4().hex[:12]}@example.com"
            body = {"email": email, "password": PASSWORD, "first_name": "Ne", "last_name": "W"}
            return await client.post("/signup", json=body)
        if kind == "verify":
            return await self._verify(client)
        return await self._login_mfa(client, n)

    async def _verify(self, client: httpx.AsyncClient) -> httpx.Response:
        """Confirm the address of someone signed up beforehand (or, once they all have, ask
        for a new link: the same kind of work)."""
        if not self.people.unverified:
            body = {"email": self.people.emails[0]}
            return await client.post("/resend_confirmation", json=body)
        email, entity_id = self.people.unverified.pop()
        return await client.post(verification_link(email, entity_id))

    async def _login_mfa(self, client: httpx.AsyncClient, n: int) -> httpx.Response:
        """Password, then a TOTP code. A code works once (replay protection), so each MFA
        person signs in fully at most once per 30 s step; when all have this step, the
        request is the password step alone (the part that costs: the hash)."""
        step = int(time.time()) // 30
        free = [(e, s) for e, s in self.people.mfa if self.people.mfa_step.get(e) != step]
        email, secret = free[0] if free else self.people.mfa[n % len(self.people.mfa)]
        if free:
            self.people.mfa_step[email] = step  # before any await: no other request takes it
        first = await client.post("/login", json={"email": email, "password": PASSWORD})
        if first.status_code != 200 or not free:
            return first
        mfa_token = first.json()["mfa_token"]
        code = pyotp.TOTP(secret).now()
        return await client.post("/login_mfa", json={"mfa_token": mfa_token, "otp": code})


async def run_phase(bases: list[str], work: Workload, rate: int, seconds: float) -> Phase:
    """Requests due every 1/rate s for `seconds`, round-robin over the instances."""
    phase = Phase(rate)
    kinds = list(itertools.chain.from_iterable([kind] * weight for kind, weight in MIX))
    random.Random(7).shuffle(kinds)  # interleaved, the same order every run
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=200)
    clients = [httpx.AsyncClient(base_url=b, timeout=30, limits=limits) for b in bases]
    pending: set[asyncio.Task[None]] = set()

    async def one(client: httpx.AsyncClient, kind: str, due: float) -> None:
        try:
            response = await work.send(client, kind)
            ok = response.status_code < 400
        except httpx.HTTPError:
            ok = False
        phase.latencies[kind].append(time.monotonic() - due)
        if not ok:
            phase.errors[kind] += 1

    start = time.monotonic()
    total = int(rate * seconds)
    for n in range(total):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if len(pending) >= MAX_IN_FLIGHT:
            phase.errors["overload"] += 1  # the servers fell this far behind: a failure
            continue
        task = asyncio.ensure_future(one(clients[n % len(clients)], kinds[n % len(kinds)], due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=60)
    for client in clients:
        await client.aclose()
    return phase


def report(label: str, phases: list[Phase], fleet: list[Instance]) -> None:
    print(f"\n{label}")
    print(f"  {'rate/s':>7} {'p99 ms':>8}  " + "  ".join(f"{k:>16}" for k, _ in MIX))
    for phase in phases:
        cells = []
        for kind, _ in MIX:
            values = sorted(phase.latencies.get(kind, []))
            if not values:
                cells.append(f"{'-':>16}")
                continue
            p50 = statistics.median(values) * 1000
            p99 = values[min(len(values) - 1, len(values) * 99 // 100)] * 1000
            cells.append(f"{p50:5.0f}/{p99:5.0f} e{phase.errors.get(kind, 0):<3}")
        overload = (
            f"  (overload {phase.errors['overload']})" if phase.errors.get("overload") else ""
        )
        print(f"  {phase.rate:>7} {phase.p99_ms():8.0f}  " + "  ".join(cells) + overload)
    good = [p.rate for p in phases if p.ok()]
    best = f"{max(good)}/s" if good else "none"
    print(f"  highest rate with p99 < {TARGET_P99_MS:.0f} ms and 0 errors: {best}")
    for n, instance in enumerate(fleet):
        rss, ready = instance.rss_mib(), instance.ready_seconds
        print(f"  instance {n}: RSS {rss:.0f} MiB, start to ready {ready:.2f} s")


async def measure(count: int, rates: list[int], seconds: float) -> None:
    test_url = os.environ.get("TEST_DATABASE_URL", "mysql+aiomysql://root@127.0.0.1:3306/qt_x")
    with tempfile.TemporaryDirectory(prefix="qt-load-") as tmp:
        workdir = Path(tmp)
        async with mariadb_database(test_url) as database_url:
            env = instance_env(database_url, workdir, f"qt-load-{uuid.uuid4().hex[:8]}")
            await asyncio.to_thread(migrate, CLI, env, workdir)
            async with instances(count, env, workdir) as fleet:
                people = await prepare(fleet[0].base, database_url)
                await settled(fleet[0].base)
                work = Workload(people, database_url)
                bases = [i.base for i in fleet]
                await run_phase(bases, work, rates[0], WARM_UP_SECONDS)  # connections, caches
                phases = []
                for rate in rates:
                    phase = await run_phase(bases, work, rate, seconds)
                    phases.append(phase)
                    if phase.p99_ms() > GIVE_UP_P99_MS or phase.errors.get("overload"):
                        break  # past saturation: higher rates only queue more
                report(f"{count} instance(s), MariaDB + Redis + RabbitMQ", phases, fleet)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="5,10,20,40,80,160")
    parser.add_argument("--instances", default="1,2")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    print(f"load average before: {loadavg()}; CPUs: {os.cpu_count()}")
    for count in (int(c) for c in args.instances.split(",")):
        asyncio.run(measure(count, rates, args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
