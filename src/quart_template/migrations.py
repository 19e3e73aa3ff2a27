"""Alembic from the app: `quart-template migrate`, and an embedded database brought to the
latest revision at start-up, so a first run needs no separate step."""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template.db import make_engine, ping
from quart_template.settings import ConfigError, Settings

# The migrations ship inside the package, so a plain (non-editable) install can migrate too;
# alembic.ini exists only in a checkout (for `alembic revision`, `make migration`).
SCRIPTS = Path(__file__).resolve().parent / "alembic"
CHECKOUT_INI = Path(__file__).resolve().parent.parent.parent / "alembic.ini"
VERSION_TABLE = "alembic_version"
RUN_MIGRATE = "run `quart-template migrate`"


def alembic_config(settings: Settings) -> object:
    """Alembic's config pointing at the shipped migrations and the configured database."""
    from alembic.config import Config

    config = Config(str(CHECKOUT_INI)) if CHECKOUT_INI.exists() else Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    config.attributes["settings"] = settings
    return config


def migrate(settings: Settings, revision: str = "head") -> None:
    """Run `alembic upgrade <revision>`; an unreachable database is a configuration error."""
    from alembic import command

    try:
        command.upgrade(alembic_config(settings), revision)  # type: ignore[arg-type]
    except (OSError, ConnectionError) as exc:
        raise ConfigError(
            settings.database_variable, f"cannot reach the database ({exc})"
        ) from None
    except Exception as exc:
        if type(exc).__module__.startswith("sqlalchemy"):
            raise ConfigError(
                settings.database_variable, f"cannot migrate the database ({type(exc).__name__})"
            ) from None
        raise


async def open_database(settings: Settings, *, ping_seconds: float | None = None) -> AsyncEngine:
    """The engine, once the database answered (else one ConfigError line naming the
    variable) and an embedded one is at the latest revision (see `ensure_schema`)."""
    engine = None
    try:
        try:
            engine = make_engine(settings.database_url)  # may fail: an uncreatable SQLite folder
            await asyncio.wait_for(ping(engine), timeout=ping_seconds)
        except Exception as exc:
            raise ConfigError(
                settings.database_variable, f"cannot reach the database ({type(exc).__name__})"
            ) from None
        await ensure_schema(engine, settings)
    except BaseException:
        if engine is not None:
            await engine.dispose()
        raise
    return engine


async def ensure_schema(engine: AsyncEngine, settings: Settings) -> None:
    """Upgrade an embedded (SQLite) database that is empty or already under Alembic to the
    latest revision. A server database (MySQL/MariaDB) is left to `quart-template migrate`, a
    deploy step, so several instances starting at once never race to migrate it; one that is
    behind stops start-up with one line saying so."""
    if engine.dialect.name != "sqlite":
        problem = await schema_problem(engine)
        if problem:
            raise ConfigError(settings.database_variable, f"{problem}: {RUN_MIGRATE}")
        return
    async with engine.connect() as conn:
        tables = await conn.run_sync(_table_names)
    if tables and VERSION_TABLE not in tables:
        return  # made some other way (e.g. metadata.create_all in tests): not Alembic's
    # Alembic runs its own event loop (env.py): off this one, in a thread.
    await asyncio.to_thread(migrate, settings)


async def schema_problem(engine: AsyncEngine) -> str | None:
    """Why this code cannot use the database's schema yet (it is empty, or at an earlier
    revision), or None. A revision this code does not know is a later one (a newer release
    migrated first, as a rolling deploy does): usable. Tables without Alembic's version table
    were made some other way (tests' `create_all`) and are trusted."""
    async with engine.connect() as conn:
        tables = await conn.run_sync(_table_names)
        if VERSION_TABLE not in tables:
            return None if tables else "the database has no tables"
        current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    head, known = await asyncio.to_thread(_revisions)
    if current is None:
        return "the database has no schema revision"
    if current != head and current in known:
        return f"the database schema is at revision {current}, this release needs {head}"
    return None


def head_revision() -> str:
    """The latest revision the shipped migrations define (what `migrate` reaches)."""
    return _revisions()[0]


@cache
def _revisions() -> tuple[str, frozenset[str]]:
    """The shipped migrations' head revision and every revision they know."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(SCRIPTS))
    head = script.get_current_head() or ""
    return head, frozenset(revision.revision for revision in script.walk_revisions())


def _table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())
