"""Shared fixtures: a real app (startup and shutdown run) on a fresh real database.

`make test` uses a throw-away SQLite file per test. With TEST_DATABASE_URL (MariaDB) the schema
is created once per run and every table is emptied before each test; with TEST_AMQP_URL the
event tests publish to a real RabbitMQ.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quart_template import app as app_module
from quart_template.app import create_app
from quart_template.db import make_engine
from quart_template.models import Base
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.backends import (
    TEST_DATABASE_URL,
    backend_lines,
    drop_every_table,
    empty_tables,
    settings_for,
    unreachable_backends,
)
from tests.support.email import remember_sent_emails
from tests.support.responses import install_response_check

# Fake internet services (real servers on 127.0.0.1) and throw-away Redis topologies: their
# fixtures are available everywhere.
pytest_plugins = ["tests.fakes.smtp", "tests.fakes.broker", "tests.support.redis_servers"]


def pytest_report_header() -> list[str]:
    """Say which backends this run uses, so a log shows SQLite and MariaDB runs apart."""
    return backend_lines()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The same, at the end of a quiet (-q) run."""
    for line in backend_lines():
        terminalreporter.write_line(line)


def pytest_sessionstart(session: pytest.Session) -> None:
    """A configured but unreachable test backend fails the run at once; it never skips."""
    problems = asyncio.run(unreachable_backends())
    if problems:
        pytest.exit("test backends unreachable: " + "; ".join(problems), returncode=3)


@pytest.fixture(scope="session")
def _mysql_schema() -> Iterator[None]:
    """Create the schema once per run on the shared test database (MariaDB)."""
    if not TEST_DATABASE_URL:
        yield
        return

    async def create() -> None:
        engine = make_engine(TEST_DATABASE_URL)
        async with engine.begin() as conn:
            await conn.run_sync(drop_every_table)
            await conn.run_sync(Base.metadata.create_all)
        await engine.dispose()

    asyncio.run(create())
    yield


@pytest.fixture
async def database_url(tmp_path: Path, _mysql_schema: None) -> str:
    """A fresh, empty database with the full schema."""
    if TEST_DATABASE_URL:
        await empty_tables(TEST_DATABASE_URL)
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
        return settings_for(database_url, **overrides)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    """A serving app: before_serving and after_serving really run."""
    application = create_app(settings)
    async with application.test_app() as test_app:
        yield test_app.app  # type: ignore[misc]


@pytest.fixture
async def serve(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., Any]]:
    """Start apps with these settings overrides (each stopped at the end of the test)."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Client:
            test_app = await stack.enter_async_context(
                create_app(make_settings(**overrides)).test_app()
            )
            return test_app.test_client()

        yield start


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


@pytest.fixture(autouse=True)
def _sent_emails_stay_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A delivered email leaves nothing in the outbox: tests read it as its sender opened it."""
    remember_sent_emails(monkeypatch)


@pytest.fixture
def client(app: Quart) -> Client:
    return app.test_client()


@pytest.fixture
def rt(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions["runtime"]
    return runtime
