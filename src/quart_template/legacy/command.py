"""`quart-template import-legacy --from URL [--dry-run] [--emit-events]`: the old database
read in batches of people, each batch written in its own transaction, so an interrupted run
is started again and carries on (entity ids already here are skipped)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template.db import reader
from quart_template.legacy import source
from quart_template.legacy.batch import map_batch
from quart_template.legacy.plan import Plan, make_plan
from quart_template.legacy.progress import Progress
from quart_template.legacy.report import Report
from quart_template.legacy.target import read_target
from quart_template.legacy.writer import write_batch
from quart_template.lifecycle import event_destinations
from quart_template.migrations import open_database
from quart_template.settings import Settings

BATCH_SIZE = 500


async def run_import(
    settings: Settings,
    *,
    from_url: str,
    dry_run: bool = False,
    emit_events: bool = False,
    out: TextIO | None = None,
    batch_size: int = BATCH_SIZE,
) -> Report:
    """Import (or, dry, only read and report) the whole old database; print the report."""
    out = out or sys.stdout
    old = source.open_source(from_url)
    engine = await open_database(settings)
    started = time.monotonic()
    try:
        report = await _import(
            old,
            engine,
            settings,
            dry_run=dry_run,
            destinations=event_destinations(settings) if emit_events else (),
            batch_size=batch_size,
        )
    finally:
        await old.dispose()
        await engine.dispose()
    report.seconds = time.monotonic() - started
    # The full report always ends with the one-line summary (what a log or a cron mail shows).
    print("\n".join(report.lines()), file=out)
    return report


async def _plan(old: AsyncEngine) -> tuple[Plan, int]:
    """The decisions over the whole database, and how many people there are."""
    async with old.connect() as conn:
        people = await source.current_people(conn)
        methods = await source.current_social_methods(conn)
        total = await source.count_people(conn)
    return make_plan(people, methods), total


@dataclass(frozen=True)
class _Run:
    """What every batch of one run shares."""

    old: AsyncEngine
    engine: AsyncEngine
    settings: Settings
    plan: Plan
    dry_run: bool
    destinations: tuple[str, ...]


async def _import(
    old: AsyncEngine,
    engine: AsyncEngine,
    settings: Settings,
    *,
    dry_run: bool,
    destinations: tuple[str, ...],
    batch_size: int,
) -> Report:
    """Every batch in person-id order, then the rows no batch reached."""
    plan, total = await _plan(old)
    run = _Run(old, engine, settings, plan, dry_run, destinations)
    report = Report(dry_run=dry_run)
    progress = Progress(total, stream=sys.stderr)
    after = ""
    while True:
        async with old.connect() as conn:
            ids = await source.person_ids_after(conn, after=after, limit=batch_size)
            if not ids:
                break
            batch = await source.read_batch(conn, ids)
        report.merge(await _one_batch(run, batch))  # only once the batch committed
        after = ids[-1]
        progress.advance(len(ids))
    progress.finish()
    async with old.connect() as conn:
        for table, entity_id, reason in await source.orphans(conn):
            report.skip(table, entity_id, reason)
    return report


async def _one_batch(run: _Run, batch: source.Batch) -> Report:
    """Map and write one batch in one transaction (dry: map only, on a read-only connection)."""
    done = Report(dry_run=run.dry_run)
    if run.dry_run:
        async with reader(run.engine).connect() as conn:
            target = await read_target(conn, batch)
            map_batch(batch, plan=run.plan, target=target, settings=run.settings, report=done)
        return done
    async with run.engine.begin() as conn:
        target = await read_target(conn, batch)
        mapped = map_batch(batch, plan=run.plan, target=target, settings=run.settings, report=done)
        await write_batch(conn, mapped, destinations=run.destinations)
    return done
