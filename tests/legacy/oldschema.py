"""A Flask Template database made the way Flask Template made it: its MySQL DDL (which SQLite
also takes) and insert-only saves (earlier versions get `latest=0`, a delete is a version
with `active=0`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template.legacy import schema

VERSIONED = """
    entity_id varchar(32) NOT NULL,
    version varchar(32) NOT NULL,
    previous_version varchar(32) DEFAULT '00000000000000000000000000000000',
    active tinyint(1) DEFAULT 1,
    latest tinyint(1) DEFAULT 1,
    changed_by_id varchar(32),
    changed_on timestamp NULL DEFAULT CURRENT_TIMESTAMP,
"""
DDL = {
    "person": """first_name varchar(120), last_name varchar(120), email varchar(320),
        password varchar(255), verified tinyint(1), verified_on int, access_token varchar(255),
        expires_in int""",
    "login_method": """name varchar(32), user_name varchar(255), email varchar(320),
        person_id varchar(32), access_token text, refresh_token text, expires_in int,
        refresh_token_expires_in int, scope varchar(500), token_type varchar(32),
        sub varchar(255), data_access_expiration_time int""",
    "otp_method": "name varchar(64), person_id varchar(32), secret varchar(32), enabled tinyint(1)",
    "recovery_code": "otp_method_id varchar(32), token varchar(32)",
}
INDEXES = {"login_method": "person_id", "otp_method": "person_id", "recovery_code": "otp_method_id"}


async def create_schema(engine: AsyncEngine, *, indexes: bool = True) -> None:
    """The four tables (and, as a deployment would have them, indexes on the owner columns)."""
    async with engine.begin() as conn:
        for name, columns in DDL.items():
            await conn.execute(
                text(
                    f"CREATE TABLE {name} ({VERSIONED} {columns}, PRIMARY KEY (entity_id, version))"
                )
            )
            if indexes and name in INDEXES:
                column = INDEXES[name]
                await conn.execute(text(f"CREATE INDEX ix_{name}_{column} ON {name} ({column})"))


class OldDatabase:
    """Saves and deletes as Flask Template's versioned model did them, one clock tick apart."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.clock = datetime(2023, 3, 1, 9, 0, 0)
        self.tables = {t.name: t for t in schema.TABLES}

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    async def save(self, table: str, entity_id: str | None = None, **fields: Any) -> str:
        """A new version of the entity (a new entity without `entity_id`): the fields given
        change, the others keep their last value."""
        t = self.tables[table]
        entity_id = entity_id or uuid.uuid4().hex
        async with self.engine.begin() as conn:
            last = (
                (await conn.execute(select(t).where(t.c.entity_id == entity_id, t.c.latest == 1)))
                .mappings()
                .first()
            )
            row = dict(last) if last else {"previous_version": schema.FIRST_VERSION}
            if last:
                row["previous_version"] = last["version"]
                await conn.execute(update(t).where(t.c.entity_id == entity_id).values(latest=0))
            row.update(fields)
            row.update(
                entity_id=entity_id,
                version=uuid.uuid4().hex,
                latest=1,
                active=fields.get("active", 1),
                changed_on=self.tick(),
            )
            row.setdefault("changed_by_id", entity_id)
            await conn.execute(insert(t), [row])
        return entity_id

    async def delete(self, table: str, entity_id: str) -> None:
        """Flask Template's delete: a new version with `active=0`."""
        await self.save(table, entity_id, active=0)
