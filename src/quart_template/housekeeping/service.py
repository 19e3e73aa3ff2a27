"""One housekeeping run: the rules built from the retention settings, run batch by batch under
the lease, each batch its own short write transaction, with a rest after it so the API's
writers always get the database in between."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template.db import reader, utcnow, write_gate
from quart_template.entities import AUDIT_TABLES
from quart_template.events.outbox import SENT, OutboxMessage
from quart_template.housekeeping.lease import Lease
from quart_template.housekeeping.rules import Finder, Keyset, Matching, Rule
from quart_template.mfa.models import MfaChallenge
from quart_template.passkeys.models import PasskeyChallenge
from quart_template.security.models import SecurityEvent
from quart_template.sessions.models import AuthSession, session_audit
from quart_template.settings import Settings
from quart_template.social.models import SocialFlow

log = logging.getLogger(__name__)

# Rows per batch. Smaller batches hold a CPU (and, on MariaDB, dirty pages) for less time each,
# so a request that meets one waits less; bench/housekeeping.py on MariaDB, 1 M sessions, p99
# with / without the purge: 1,000 rows 1.72 x, 500 rows 1.57 x, 250 rows 1.35 x (purge and quiet
# slices in turn), the purge at 976, 860 and 803 sessions/s (15-21 x the logins, >= 10 x needed).
BATCH_SIZE = 250
# SQLite's readers never wait for a writer (WAL) and a batch's deletes cost far less than its
# trips through aiosqlite's thread and a busy event loop: 200,000 sessions, p99 1.27 x at 250
# rows but only 444 sessions/s (6 x the 76 logins/s), 1.48 x and 994 sessions/s (13 x) at 1,000.
BATCH_SIZES = {"sqlite": 1000}
# A spent or expired second-factor or passkey challenge, or social sign-in flow, is kept this
# long (for support questions only).
CHALLENGE_RETENTION = timedelta(days=1)
# After each batch, rest this many times as long as its write took: the purge holds the
# database's write lock (and a CPU) at most a sixth of the time, which keeps the API's p99
# within 1.5 x of its usual on a busy 2-CPU machine (bench/housekeeping.py) while deleting
# still some 20 x faster than that machine can log people in.
REST_RATIO = 5.0


def batch_size_for(engine: AsyncEngine) -> int:
    """Rows per batch on this engine's database."""
    return BATCH_SIZES.get(engine.dialect.name, BATCH_SIZE)


@dataclass
class Report:
    """What a run deleted (or, dry, would delete) per table; `ran` is False when another
    instance held the lease (`holder`) or no run was due."""

    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    ran: bool = True
    holder: str | None = None
    stopped: bool = False  # asked to stop (shutdown) before the rules were done

    def add(self, counts: dict[str, int]) -> None:
        for table, count in counts.items():
            self.counts[table] = self.counts.get(table, 0) + count

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class _LeaseLost(Exception):
    """The lease ran out under us (the database was away longer than the lease)."""


def build_rules(settings: Settings, now: datetime) -> list[Rule]:
    """The rules, in order, for the retention settings as they are now."""
    sessions_before = now - timedelta(days=settings.session_retention)
    challenges_before = now - CHALLENGE_RETENTION
    outbox_before = now - timedelta(days=settings.outbox_retention)
    session, challenge, outbox = _table(AuthSession), _table(MfaChallenge), _table(OutboxMessage)
    flow = _table(SocialFlow)
    ceremony = _table(PasskeyChallenge)
    rules: list[Rule] = [
        Matching(
            session,
            session.c.entity_id,
            [
                Finder(session.c.expires_at < sessions_before, along=session.c.expires_at),
                Finder(session.c.revoked_at < sessions_before, along=session.c.revoked_at),
            ],
            dependents=[(session_audit, session_audit.c.entity_id)],
        ),
        Matching(
            challenge,
            challenge.c.id_hash,
            [
                Finder(
                    (challenge.c.expires_at < challenges_before)
                    | (challenge.c.used_at < challenges_before)
                )
            ],
        ),
        Matching(
            flow,
            flow.c.id_hash,
            [
                Finder(flow.c.expires_at < challenges_before, along=flow.c.expires_at),
                Finder(flow.c.used_at < challenges_before, along=flow.c.used_at),
            ],
        ),
        Matching(
            ceremony,
            ceremony.c.challenge_hash,
            [
                Finder(
                    (ceremony.c.expires_at < challenges_before)
                    | (ceremony.c.used_at < challenges_before)
                )
            ],
        ),
        Keyset(
            outbox,
            outbox.c.id,
            outbox.c.created_at,
            outbox_before,
            (outbox.c.status == SENT) & (outbox.c.sent_at < outbox_before),
        ),
    ]
    if settings.security_event_retention is not None:
        events = _table(SecurityEvent)
        before = now - timedelta(days=settings.security_event_retention)
        rules.append(Keyset(events, events.c.id, events.c.at, before, events.c.at < before))
    if settings.audit_retention is not None:
        before = now - timedelta(days=settings.audit_retention)
        for name in sorted(AUDIT_TABLES):
            audit = AUDIT_TABLES[name]
            age = audit.c.audited_on
            rules.append(Keyset(audit, audit.c.audit_id, age, before, age < before))
    return rules


async def housekeep(
    engine: AsyncEngine,
    settings: Settings,
    *,
    lease: Lease,
    due_only: bool = False,
    dry_run: bool = False,
    batch_size: int | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> Report:
    """Run every rule once under the lease (`due_only`: only when the shared schedule says a
    run is due, as the in-app task does), in batches of `batch_size` rows (default: the
    database's, `batch_size_for`). A dry run only counts, and needs no lease."""
    rules = build_rules(settings, utcnow())
    if dry_run:
        return await _count(engine, rules)
    if not await lease.take(due_only=due_only):
        return Report(ran=False, holder=await lease.current_holder())
    report = Report()
    size = batch_size or batch_size_for(engine)
    started = time.perf_counter()
    try:
        for rule in rules:
            report.add(dict.fromkeys(rule.tables, 0))
            if not await _run_rule(
                engine, rule, lease=lease, size=size, report=report, stopping=stopping
            ):
                report.stopped = True
                break
    except _LeaseLost:
        report.stopped = True
        log.warning(
            "housekeeping lost its lease; stopped", extra={"event": "housekeeping_lease_lost"}
        )
    finally:
        await lease.give_back(next_run_in=timedelta(seconds=settings.housekeeping_interval))
    log.info(
        "housekeeping done",
        extra={
            "event": "housekeeping_done",
            "deleted": report.total,
            "tables": dict(report.counts),
            "seconds": round(time.perf_counter() - started, 3),
            "stopped": report.stopped,
        },
    )
    return report


async def _run_rule(
    engine: AsyncEngine,
    rule: Rule,
    *,
    lease: Lease,
    size: int,
    report: Report,
    stopping: Callable[[], bool],
) -> bool:
    """Batch after batch until the rule is done (True) or a stop was asked for (False); a
    stop is only ever seen between batches, never inside a transaction."""
    while not stopping():
        async with reader(engine).connect() as conn:
            batch = await rule.find(conn, size)
        if batch is None:
            return True
        if stopping():
            return False
        async with write_gate(engine):
            began = time.perf_counter()
            async with engine.begin() as conn:
                if not await lease.keep(conn):
                    raise _LeaseLost
                report.add(await rule.delete(conn, batch))
            took = time.perf_counter() - began
        await asyncio.sleep(took * REST_RATIO)
    return False


async def _count(engine: AsyncEngine, rules: list[Rule]) -> Report:
    report = Report(dry_run=True)
    async with reader(engine).connect() as conn:
        for rule in rules:
            report.add(await rule.count(conn))
    return report


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
