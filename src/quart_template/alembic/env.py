"""Alembic environment: runs migrations through the app's async engine."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.operations import ops
from sqlalchemy.engine import Connection

from quart_template.db import make_engine
from quart_template.models import Base
from quart_template.settings import load_settings

config = context.config
if config.config_file_name is not None and not config.attributes.get("settings"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or load_settings().database_url


def _drop_tables_whole(_context: object, _revision: object, directives: list[Any]) -> None:
    """Autogenerate: don't drop indexes of tables the downgrade drops anyway.

    MySQL refuses to drop an index a foreign key still needs, and DROP TABLE removes them all.
    """
    for downgrade in directives[0].downgrade_ops_list:
        dropped = {op.table_name for op in downgrade.ops if isinstance(op, ops.DropTableOp)}
        kept = []
        for op in downgrade.ops:
            if isinstance(op, ops.ModifyTableOps) and op.table_name in dropped:
                op.ops = [sub for sub in op.ops if not isinstance(sub, ops.DropIndexOp)]
                if not op.ops:
                    continue
            kept.append(op)
        downgrade.ops = kept


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        process_revision_directives=_drop_tables_whole,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = make_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_online())
