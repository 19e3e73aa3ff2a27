"""One instance at a time: the lease goes to one holder, runs out when its holder dies, carries
the shared schedule; two instances running housekeeping at once delete each row once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from quart_template.db import make_engine, utcnow
from quart_template.housekeeping.lease import Lease
from quart_template.housekeeping.models import HousekeepingLease
from quart_template.housekeeping.service import housekeep
from quart_template.runtime import Runtime
from quart_template.sessions.models import AuthSession
from tests.support.factories import create_person
from tests.support.retention import add_expired_sessions, aged, keys


def _lease(rt: Runtime, holder: str) -> Lease:
    return Lease(rt.engine, holder=holder)


async def _row(rt: Runtime) -> HousekeepingLease:
    async with rt.db() as db:
        return (await db.execute(select(HousekeepingLease))).scalar_one()


async def test_the_lease_goes_to_one_holder_at_a_time(rt: Runtime) -> None:
    first, second = _lease(rt, "first"), _lease(rt, "second")
    assert await first.take(due_only=True)  # a new lease is due at once
    assert not await second.take(due_only=False)
    assert await second.current_holder() == "first"
    await first.give_back(next_run_in=timedelta(hours=1))
    assert (await _row(rt)).holder is None
    assert await second.current_holder() is None
    # Free, but the shared schedule says the next in-app run is an hour away; on demand it runs.
    assert not await second.take(due_only=True)
    assert await second.take(due_only=False)
    assert not await first.take(due_only=False)


async def test_a_lease_whose_holder_died_runs_out(rt: Runtime) -> None:
    first, second = _lease(rt, "first"), _lease(rt, "second")
    assert await first.take(due_only=False)
    await aged(rt.engine, HousekeepingLease, "housekeeping", expires_at=utcnow() - timedelta(1))
    assert await second.take(due_only=False)
    async with rt.engine.begin() as conn:
        assert not await first.keep(conn)  # its next batch would roll back
        assert await second.keep(conn)


async def test_two_instances_at_once_delete_each_row_once(rt: Runtime, database_url: str) -> None:
    person = await create_person(rt)
    await add_expired_sessions(rt.engine, person.entity_id, count=300, days_ago=40)
    engines = [make_engine(database_url), make_engine(database_url)]
    try:
        reports = await asyncio.gather(
            *(
                housekeep(engine, rt.settings, lease=Lease(engine, holder=f"i{n}"), batch_size=25)
                for n, engine in enumerate(engines)
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert any(report.ran for report in reports)
    assert sum(report.counts.get("session", 0) for report in reports) == 300
    assert await keys(rt.engine, AuthSession) == set()
    assert (await _row(rt)).holder is None


async def test_a_stop_between_batches_keeps_the_rest_and_frees_the_lease(rt: Runtime) -> None:
    person = await create_person(rt)
    await add_expired_sessions(rt.engine, person.entity_id, count=10, days_ago=40)
    asked = 0

    def stop_after_the_first_batch() -> bool:
        nonlocal asked
        asked += 1  # asked before finding a batch and before deleting it
        return asked > 2

    report = await housekeep(
        rt.engine,
        rt.settings,
        lease=_lease(rt, "stopping"),
        batch_size=3,
        stopping=stop_after_the_first_batch,
    )

    assert report.stopped and report.counts == {"session": 3, "session_audit": 0}
    assert len(await keys(rt.engine, AuthSession)) == 7
    assert (await _row(rt)).holder is None
    rest = await housekeep(rt.engine, rt.settings, lease=_lease(rt, "next"), batch_size=3)
    assert rest.counts["session"] == 7 and not rest.stopped
