"""Reading what a database dump would show: a table's raw text, the audit copies of a column."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from quart_template.entities import AUDIT_TABLES
from quart_template.models import Base
from quart_template.runtime import Runtime


async def table_text(rt: Runtime, table: str) -> str:
    """Every value of every row of `table`, as text (what a dump of it would hold)."""
    async with rt.engine.connect() as connection:
        rows = (await connection.execute(select(Base.metadata.tables[table]))).all()
    return "\n".join(" | ".join(str(value) for value in row) for row in rows)


async def audit_values(rt: Runtime, entity: str, column: str, *, entity_id: str) -> list[Any]:
    """`column` in each audit copy of one entity, oldest first."""
    audit = AUDIT_TABLES[entity]
    query = select(audit.c[column]).where(audit.c.entity_id == entity_id)
    async with rt.db() as db:
        return list((await db.execute(query.order_by(audit.c.audit_id))).scalars())
