"""The in-app task: it runs when HOUSEKEEPING_INTERVAL elapses, stops cleanly at shutdown,
and does not start at all when the interval is 0."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import select

from quart_template.app import create_app
from quart_template.housekeeping.models import HousekeepingLease
from quart_template.runtime import Runtime
from quart_template.sessions.models import AuthSession
from quart_template.settings import Settings
from tests.support.factories import create_person
from tests.support.retention import add_expired_sessions, keys

DEADLINE = 20.0  # seconds: a bound, not an expectation


def _housekeeping_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "housekeeping"]


async def test_the_task_runs_when_the_interval_elapses_and_stops_at_shutdown(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(relay_in_app=False, housekeeping_interval=0.05))
    async with app.test_app():
        rt: Runtime = app.extensions["runtime"]
        person = await create_person(rt)
        await add_expired_sessions(rt.engine, person.entity_id, count=5, days_ago=40)
        deadline = time.monotonic() + DEADLINE
        while await keys(rt.engine, AuthSession):
            assert time.monotonic() < deadline, "the in-app task did not run"
            await asyncio.sleep(0.02)
        tasks = _housekeeping_tasks()
        assert len(tasks) == 1
        engine = rt.engine
    [task] = tasks
    assert task.done() and not task.cancelled() and task.exception() is None
    assert _housekeeping_tasks() == []
    async with engine.connect() as conn:  # (disposed at shutdown; a new connection is fine)
        lease = (await conn.execute(select(HousekeepingLease.holder))).scalar_one()
    await engine.dispose()
    assert lease is None


async def test_an_interval_of_0_never_runs_it_in_app(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(relay_in_app=False, housekeeping_interval=0))
    async with app.test_app():
        rt: Runtime = app.extensions["runtime"]
        assert rt.housekeeper is not None
        assert _housekeeping_tasks() == []
