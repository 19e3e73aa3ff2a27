"""Shared fixtures: a real app (startup and shutdown run) on a fresh real database.

`make test` uses a throw-away SQLite file per test. With TEST_DATABASE_URL (MariaDB) the schema
is created once per run and every table is emptied before each test; with TEST_AMQP_URL the
event tests publish to a real RabbitMQ.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import delete, inspect, text

from quart_template import app as app_module
from quart_template.app import create_app
from quart_template.db import make_engine, ping
from quart_template.models import Base
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.responses import install_response_check

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_AMQP_URL = os.environ.get("TEST_AMQP_URL")

# Fake internet services (real servers on 127.0.0.1): their fixtures are available everywhere.
pytest_plugins = ["tests.fakes.smtp", "tests.fakes.broker"]


def _base_env() -> dict[str, Any]:
    return {
        "app_env": "test",
        "secret_key": "test-secret-key-0123456789",
        "security_password_salt": "test-salt",
        "frontend_url": "http://frontend.test",
        "email_backend": "console",
        "amqp_url_": None,
        "broker_path": None,
        "redis_url": None,
        "pusher_app_id": None,
        "rollbar_access_token": None,
        "mysql_host": None,
        # Fast hashing in tests; the minimums are enforced by the settings' bounds.
        "argon2_time_cost": 2,
        "argon2_memory_cost": 19456,
    }


def pytest_report_header() -> list[str]:
    """Say which backends this run uses, so a log shows SQLite and MariaDB runs apart."""
    database = _redacted(TEST_DATABASE_URL) if TEST_DATABASE_URL else "SQLite (a file per test)"
    broker = _redacted(TEST_AMQP_URL) if TEST_AMQP_URL else "none (TEST_AMQP_URL unset)"
    return [f"test database: {database}", f"test broker: {broker}"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The same, at the end of a quiet (-q) run."""
    for line in pytest_report_header():
        terminalreporter.write_line(line)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def pytest_sessionstart(session: pytest.Session) -> None:
    """A configured but unreachable test backend fails the run at once; it never skips."""
    problems = asyncio.run(_unreachable_backends())
    if problems:
        pytest.exit("test backends unreachable: " + "; ".join(problems), returncode=3)


async def _unreachable_backends() -> list[str]:
    problems = []
    if TEST_DATABASE_URL:
        engine = make_engine(TEST_DATABASE_URL)
        try:
            await asyncio.wait_for(ping(engine), timeout=15)
        except Exception as exc:
            problems.append(f"TEST_DATABASE_URL ({type(exc).__name__}: {exc})")
        finally:
            await engine.dispose()
    if TEST_AMQP_URL:
        import aio_pika

        try:
            connection = await aio_pika.connect(TEST_AMQP_URL, timeout=15)
            await connection.close()
        except Exception as exc:
            problems.append(f"TEST_AMQP_URL ({type(exc).__name__}: {exc})")
    return problems


@pytest.fixture(scope="session")
def _mysql_schema() -> Iterator[None]:
    """Create the schema once per run on the shared test database (MariaDB)."""
    if not TEST_DATABASE_URL:
        yield
        return

    async def create() -> None:
        engine = make_engine(TEST_DATABASE_URL)
        async with engine.begin() as conn:
            await conn.run_sync(_drop_every_table)
            await conn.run_sync(Base.metadata.create_all)
        await engine.dispose()

    asyncio.run(create())
    yield


def _drop_every_table(conn: Any) -> None:
    """Also tables an older schema left behind: their foreign keys would block drop_all."""
    conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
    for table in inspect(conn).get_table_names():
        conn.execute(text(f"DROP TABLE `{table}`"))
    conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


async def _empty_tables(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        if conn.dialect.name == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(delete(table))
        if conn.dialect.name == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    await engine.dispose()


@pytest.fixture
async def database_url(tmp_path: Path, _mysql_schema: None) -> str:
    """A fresh, empty database with the full schema."""
    if TEST_DATABASE_URL:
        await _empty_tables(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()
    return url


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    """Settings for a test app; keyword arguments override fields."""

    def build(**overrides: Any) -> Settings:
        values = _base_env()
        values["database_url_"] = database_url
        values.update(overrides)
        return Settings.model_construct(**_with_defaults(values))

    return build


def _with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    # model_construct skips validation (so the process environment and .env cannot leak in);
    # fill the remaining fields from their declared defaults.
    full = {}
    for name, field in Settings.model_fields.items():
        full[name] = field.get_default(call_default_factory=True)
    full.update(values)
    return full


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    """A serving app: before_serving and after_serving really run."""
    application = create_app(settings)
    async with application.test_app() as test_app:
        yield test_app.app  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _answers_match_their_documents(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every app a test builds checks its answers against /openapi.json (see
    tests/support/responses.py); a test whose requests got an undocumented answer fails."""
    problems: list[str] = []
    register = app_module._register_blueprints

    def register_and_check(app: Quart) -> None:
        register(app)
        install_response_check(app, problems)

    monkeypatch.setattr(app_module, "_register_blueprints", register_and_check)
    yield
    assert not problems, "answers that /openapi.json does not describe:\n" + "\n".join(problems)


@pytest.fixture
def client(app: Quart) -> Client:
    return app.test_client()


@pytest.fixture
def rt(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions["runtime"]
    return runtime
