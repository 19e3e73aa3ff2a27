"""The test backends: which database and broker a run uses, whether they answer, a schema reset
between tests, and settings that neither the process environment nor `.env` can leak into."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sqlalchemy import delete, inspect, text

from quart_template.db import make_engine, ping
from quart_template.models import Base
from quart_template.settings import ConfigError, Settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_AMQP_URL = os.environ.get("TEST_AMQP_URL")


def base_env() -> dict[str, Any]:
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


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test app on this database; keyword arguments override fields."""
    values = base_env()
    values["database_url_"] = database_url
    values.update(overrides)
    # model_construct skips validation (so the process environment and .env cannot leak in);
    # fill the remaining fields from their declared defaults.
    full = {}
    for name, field in Settings.model_fields.items():
        full[name] = field.get_default(call_default_factory=True)
    full.update(values)
    return Settings.model_construct(**full)


def start_up_refusal(settings: Settings) -> ConfigError:
    """The one-line refusal start-up meets with these settings (fails the test if none)."""
    try:
        settings.check()
    except ConfigError as refused:
        assert "\n" not in str(refused)
        return refused
    raise AssertionError("the settings were accepted")


def backend_lines() -> list[str]:
    """Which backends this run uses, so a log shows SQLite and MariaDB runs apart."""
    database = redacted(TEST_DATABASE_URL) if TEST_DATABASE_URL else "SQLite (a file per test)"
    broker = redacted(TEST_AMQP_URL) if TEST_AMQP_URL else "none (TEST_AMQP_URL unset)"
    return [f"test database: {database}", f"test broker: {broker}"]


def redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


async def unreachable_backends() -> list[str]:
    """The configured test backends that do not answer, each with the reason."""
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


def drop_every_table(conn: Any) -> None:
    """Also tables an older schema left behind: their foreign keys would block drop_all."""
    conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
    for table in inspect(conn).get_table_names():
        conn.execute(text(f"DROP TABLE `{table}`"))
    conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


async def empty_tables(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        if conn.dialect.name == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(delete(table))
        if conn.dialect.name == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    await engine.dispose()


def database_for_processes(folder: Path) -> str:
    """One database for several server processes: the test MariaDB (emptied), or a new SQLite
    file in `folder` whose schema exists before any of them starts (each would try to make it)."""
    if TEST_DATABASE_URL:
        asyncio.run(empty_tables(TEST_DATABASE_URL))
        return TEST_DATABASE_URL
    url = f"sqlite+aiosqlite:///{folder / 'app.db'}"

    async def create() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await engine.dispose()

    asyncio.run(create())
    return url
