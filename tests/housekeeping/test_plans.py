"""How SQLite runs a purge's statements: each batch reads only its own rows, in index order,
however many rows share an end time. Without the key in the index, SQLite sorted every row still
past retention to find each batch's end and walked all rows tied with it to delete it: 29 ms to
find and 57 ms to delete each batch of 250 at the start of a purge of 200,000 sessions that
ended at two instants (bench/housekeeping.py's fill), 0.2 and 3.3 ms now; the purge slowed down
with the table's size. MariaDB's plans (its secondary indexes carry the key anyway) were read
with EXPLAIN on 200,000 sessions: a range of the index, 251 rows, for both; on a table of a few
rows its optimizer rightly prefers a scan, so they are not asserted here."""

from __future__ import annotations

import pytest

from quart_template.housekeeping.lease import Lease
from quart_template.housekeeping.service import housekeep
from quart_template.runtime import Runtime
from quart_template.sessions.models import AuthSession
from tests.support.factories import signed_in
from tests.support.retention import aged, ago, count, session_of
from tests.support.sql import executed

TABLES = ("session", "session_audit", "social_flow")


async def test_a_batch_reads_only_its_own_rows_when_many_ended_at_one_instant(
    rt: Runtime,
) -> None:
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plans (MariaDB's: see the module's docstring)")
    ada = await signed_in(rt)
    ended = ago(40)
    for n in range(12):
        key = await session_of(rt, ada.person, revoked=n % 3 == 0)
        moved = {"revoked_at": ended} if n % 3 == 0 else {"expires_at": ended}
        await aged(rt.engine, AuthSession, key, **moved)
    before = await count(rt.engine, AuthSession)

    with executed(rt) as seen:
        report = await housekeep(
            rt.engine, rt.settings, lease=Lease(rt.engine, holder="test"), batch_size=3
        )

    assert report.counts["session"] == 12
    assert await count(rt.engine, AuthSession) == before - 12
    plans: dict[str, list[str]] = {}
    async with rt.engine.connect() as conn:
        for statement, parameters in seen:
            if not any(f" {table}" in statement for table in TABLES):
                continue
            explained = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plans[statement] = [row[-1] for row in explained]
    walked = [s for s in plans if "ORDER BY session.expires_at" in s]
    assert walked, "the purge found its batches' ends along expires_at"
    for statement, steps in plans.items():
        assert not any("TEMP B-TREE" in step for step in steps), (statement, steps)
        assert not any(step.startswith("SCAN session") for step in steps), (statement, steps)
        # Deleting a batch of rows sharing an end time is one range of the index, not a walk
        # of every row tied with its last one.
        if statement.startswith("DELETE FROM session WHERE (session.expires_at"):
            assert any("(expires_at,entity_id)<" in step for step in steps), steps
    assert any(s.startswith("DELETE FROM session WHERE (session.") for s in plans)
