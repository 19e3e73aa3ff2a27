"""The real console script: bad configuration stops it in one line; serve starts and stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from quart_template.cli import warn_of_slow_revocation
from quart_template.serving import SERVERS
from quart_template.settings import Settings
from tests.support.network import free_port

SCRIPT = str(Path(sys.executable).with_name("quart-template"))
DEADLINE = 60.0  # seconds: bounds, not expectations


def _env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """A minimal environment: nothing of the developer's settings, and no `.env` in the cwd."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env.update(variables)
    return env


def _run(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args],
        env=_env(tmp_path, **variables),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def _assert_refused(result: subprocess.CompletedProcess[str], variable: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_production_with_the_default_secret_key_refuses_to_start(
    tmp_path: Path, command: str
) -> None:
    result = _run(tmp_path, command, APP_ENV="production")
    _assert_refused(result, "SECRET_KEY")


PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "kq3V9x-Lr2mZ8wT1yBn5cH7pD4sF6gJ0aE",
    "SECURITY_PASSWORD_SALT": "Zt8Qw2Ex4Rc6Vb1Yn3Um5Il7Ok9Pj0Hg",
    "FRONTEND_URL": "https://app.example.com",
    "EMAIL_BACKEND": "smtp",
}


@pytest.mark.parametrize("missing", ["EMAIL_BACKEND", "FRONTEND_URL", "SECURITY_PASSWORD_SALT"])
def test_production_without_an_explicit_setting_refuses_to_start(
    tmp_path: Path, missing: str
) -> None:
    env = {name: value for name, value in PRODUCTION.items() if name != missing}
    result = _run(tmp_path, "serve", **env)
    _assert_refused(result, missing)
    assert result.returncode == 2


def test_unknown_email_backend_refuses_to_start(tmp_path: Path) -> None:
    _assert_refused(_run(tmp_path, "serve", EMAIL_BACKEND="carrier-pigeon"), "EMAIL_BACKEND")


def test_an_unknown_transmitter_event_refuses_to_start(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve", EMAIL_TRANSMITTER_EVENTS="USER_CREATED,WELCOME")
    _assert_refused(result, "EMAIL_TRANSMITTER_EVENTS")
    assert "WELCOME" in result.stderr


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_unreachable_mysql_database_refuses_to_start(tmp_path: Path, command: str) -> None:
    url = f"mysql+aiomysql://root@127.0.0.1:{free_port()}/nothing?charset=utf8mb4"
    _assert_refused(_run(tmp_path, command, DATABASE_URL=url), "DATABASE_URL")


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_unreachable_mysql_from_flask_template_variables_names_mysql_host(
    tmp_path: Path, command: str
) -> None:
    env = {"DATABASE_URL": "", "MYSQL_HOST": "127.0.0.1", "MYSQL_PORT": str(free_port())}
    _assert_refused(_run(tmp_path, command, **env), "MYSQL_HOST")


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_unwritable_sqlite_path_refuses_to_start(tmp_path: Path, command: str) -> None:
    url = "sqlite+aiosqlite:////proc/quart-template-cannot-live-here/app.db"
    _assert_refused(_run(tmp_path, command, DATABASE_URL=url), "DATABASE_URL")


def _wait_for_greeting(port: int, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited before answering"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("serve did not answer in time")


# What each server says once it listens (Uvicorn: once, before any worker starts).
LISTENING = {
    "hypercorn": "Running on http://127.0.0.1:",
    "uvicorn": "Uvicorn running on http://127.0.0.1:",
}


@pytest.mark.parametrize("server", SERVERS)
def test_serve_answers_then_stops_cleanly_on_sigterm(tmp_path: Path, server: str) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    assert _run(tmp_path, "migrate").returncode == 0  # idempotent
    port = free_port()
    process = subprocess.Popen(
        [SCRIPT, "serve", "--host", "127.0.0.1", "--port", str(port), "--server", server],
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for_greeting(port, process) == "Welcome to Quart Template."
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    running = [line for line in stderr.splitlines() if LISTENING[server] in line]
    assert len(running) == 1, f"each log line once: {stderr}"
    backends = [line for line in stderr.splitlines() if "database sqlite+aiosqlite" in line]
    assert len(backends) == 1 and "broker off" in backends[0] and "email console" in backends[0]
    assert f"server {server}" in backends[0]
    assert "color_message" not in stderr and "\x1b[" not in stderr  # Uvicorn's coloured copies
    # No secret was set: made once by the first migrate, kept private, reused, said once.
    generated = [line for line in stderr.splitlines() if "kept in var/" in line]
    assert len(generated) == 1 and "SECRET_KEY" in generated[0], stderr
    for name in ("secret_key", "security_password_salt"):
        assert (tmp_path / "var" / name).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("args", "variables", "named"),
    [
        (["--server", "gunicorn"], {}, "--server"),
        ([], {"ASGI_SERVER": "gunicorn"}, "ASGI_SERVER"),
    ],
)
def test_an_unknown_server_refuses_to_start(
    tmp_path: Path, args: list[str], variables: dict[str, str], named: str
) -> None:
    result = _run(tmp_path, "serve", *args, **variables)
    _assert_refused(result, named)
    assert result.returncode == 2
    assert "hypercorn" in result.stderr and "uvicorn" in result.stderr  # what it could be


def test_uvicorn_without_its_extra_refuses_to_start_naming_the_extra(tmp_path: Path) -> None:
    missing = tmp_path / "site"  # first on the path: `import uvicorn` fails as if not installed
    missing.mkdir()
    (missing / "uvicorn.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'uvicorn'\", name='uvicorn')\n"
    )
    result = _run(tmp_path, "serve", "--server", "uvicorn", PYTHONPATH=str(missing))
    _assert_refused(result, "--server")
    assert result.returncode == 2
    assert "pip install 'quart-template[uvicorn]'" in result.stderr


def test_several_workers_without_redis_warn_once_of_slow_revocation(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    def warnings(workers: int, **overrides: Any) -> list[str]:
        caplog.clear()
        warn_of_slow_revocation(make_settings(**overrides), workers)
        return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]

    [line] = warnings(4)
    assert "REDIS_URL" in line and "SESSION_CACHE_SECONDS (2 s)" in line
    assert warnings(1) == []
    assert warnings(4, redis_url="redis://127.0.0.1:6379/0") == []
    assert warnings(4, session_cache_seconds=0) == []


async def _seed_ended_sessions(url: str, count: int) -> None:
    """A person with `count` sessions that ended 40 days ago, in the CLI's database."""
    from quart_template.accounts.models import Person
    from quart_template.db import make_engine, make_session_factory
    from tests.support.retention import add_expired_sessions

    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as db, db.begin():
            person = Person(email="ada@example.com", email_key="ada@example.com")
            db.add(person)
        await add_expired_sessions(engine, person.entity_id, count=count, days_ago=40)
    finally:
        await engine.dispose()


def _table_counts(stdout: str) -> dict[str, int]:
    rows = [line.split() for line in stdout.splitlines() if line.startswith("  ")]
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def test_housekeeping_prints_per_table_counts_and_a_dry_run_deletes_nothing(
    tmp_path: Path,
) -> None:
    import asyncio

    assert _run(tmp_path, "migrate").returncode == 0
    asyncio.run(_seed_ended_sessions(_env(tmp_path)["DATABASE_URL"], 3))

    dry = _run(tmp_path, "housekeeping", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("housekeeping: would delete 3 rows")
    counts = _table_counts(dry.stdout)
    assert counts["session"] == 3
    assert set(counts) >= {"session", "session_audit", "mfa_challenge", "outbox", "security_event"}

    done = _run(tmp_path, "housekeeping")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("housekeeping: deleted 3 rows")
    assert _table_counts(done.stdout)["session"] == 3
    assert "AUDIT_RETENTION is unset" in done.stdout

    again = _run(tmp_path, "housekeeping", "--dry-run")
    assert _table_counts(again.stdout)["session"] == 0  # the real run deleted them


async def _hold_lease(url: str, holder: str) -> None:
    """Another instance in the middle of a run: the lease is taken for five more minutes."""
    from datetime import timedelta

    from sqlalchemy import insert

    from quart_template.db import make_engine, utcnow
    from quart_template.housekeeping.models import HousekeepingLease

    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            now = utcnow()
            values = {"holder": holder, "expires_at": now + timedelta(minutes=5), "due_at": now}
            await conn.execute(insert(HousekeepingLease).values(name="housekeeping", **values))
    finally:
        await engine.dispose()


def test_housekeeping_leaves_the_work_to_the_instance_holding_the_lease(tmp_path: Path) -> None:
    import asyncio

    assert _run(tmp_path, "migrate").returncode == 0
    url = _env(tmp_path)["DATABASE_URL"]
    asyncio.run(_seed_ended_sessions(url, 2))
    asyncio.run(_hold_lease(url, "api-1:42:cafe"))

    result = _run(tmp_path, "housekeeping")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "housekeeping: skipped, api-1:42:cafe is running it"
    assert _table_counts(_run(tmp_path, "housekeeping", "--dry-run").stdout)["session"] == 2


def test_migrate_names_the_database_and_the_revision_it_reached(tmp_path: Path) -> None:
    from quart_template.migrations import head_revision

    result = _run(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        f"database sqlite+aiosqlite:///{tmp_path / 'cli.db'}: at revision {head_revision()}"
    )


def test_the_backends_line_names_every_backend_without_a_password() -> None:
    from quart_template.cli import describe_backends

    settings = Settings.model_construct(
        database_url_="mysql+aiomysql://quart:db-secret@db.internal:3306/app",
        amqp_url_="amqp://quart:mq-secret@mq.internal:5672/vhost",
        redis_url="redis://:redis-secret@cache.internal:6379/0",
        email_backend="rabbitmq",
    )
    line = describe_backends(settings)
    assert "secret" not in line
    for part in ("db.internal:3306/app", "mq.internal:5672/vhost", "cache.internal", "rabbitmq"):
        assert part in line
    quiet = describe_backends(Settings.model_construct(database_url_="sqlite+aiosqlite:///x.db"))
    assert "broker off" in quiet and "redis off" in quiet


@pytest.mark.parametrize(
    ("env", "host", "expected"),
    [
        ("development", None, "127.0.0.1"),
        ("test", None, "127.0.0.1"),
        ("production", None, "0.0.0.0"),
        ("development", "0.0.0.0", "0.0.0.0"),
        ("production", "10.0.0.5", "10.0.0.5"),
    ],
)
def test_serve_listens_on_loopback_in_development_unless_host_says_otherwise(
    env: str, host: str | None, expected: str
) -> None:
    assert Settings.model_construct(app_env=env, host_=host).host == expected
