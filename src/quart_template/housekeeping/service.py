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

# A spent or expired second-factor or passkey challenge, or social sign-in flow, is kept this
# long (for support questions only).
CHALLENGE_RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class Pacing:
    """How a purge shares the database: `batch_size` rows per write transaction, then a rest
    `rest_ratio` times as long as that write took, so the purge holds the write lock (and a
    CPU) at most 1 / (1 + rest_ratio) of the time."""

    batch_size: int
    rest_ratio: float


# bench/housekeeping.py (purge and quiet slices in turn, API p99 with the purge over its p99
# without, and the purge's rate over the logins the machine sustains; >= 10 x needed, <= 1.5 x):
# - MariaDB, 1 M sessions: batches of 1,000 rows 1.72 x, 500 rows 1.57 x, 250 rows 1.35 x and
#   15 x (smaller batches hold a CPU and dirty pages for less time each).
# - SQLite's readers never wait for a writer (WAL) and a batch's deletes cost less than its trips
#   through aiosqlite's thread and a busy event loop: 200,000 sessions at 250 rows 1.27 x but
#   6 x, at 1,000 rows 1.48 x and 13 x; 1 M sessions at 1,000 rows 1.43 x and 9 x with a rest
#   of 5, 1.36 x and 11 x with a rest of 4.
PACING = Pacing(batch_size=250, rest_ratio=5.0)
PACING_BY_DIALECT = {"sqlite": Pacing(batch_size=1000, rest_ratio=4.0)}


def pacing_for(engine: AsyncEngine) -> Pacing:
    """How a purge paces itself on this engine's database."""
    return PACING_BY_DIALECT.get(engine.dialect.name, PACING)


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
                Finder.before(session.c.expires_at, sessions_before),
                Finder.before(session.c.revoked_at, sessions_before),
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
                Finder.before(flow.c.expires_at, challenges_before),
                Finder.before(flow.c.used_at, challenges_before),
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
    database's, `pacing_for`). A dry run only counts, and needs no lease."""
    rules = build_rules(settings, utcnow())
    if dry_run:
        return await _count(engine, rules)
    if not await lease.take(due_only=due_only):
        return Report(ran=False, holder=await lease.current_holder())
    report = Report()
    pacing = pacing_for(engine)
    if batch_size is not None:
        pacing = Pacing(batch_size, pacing.rest_ratio)
    started = time.perf_counter()
    try:
        for rule in rules:
            report.add(dict.fromkeys(rule.tables, 0))
            if not await _run_rule(
                engine, rule, lease=lease, pacing=pacing, report=report, stopping=stopping
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
    pacing: Pacing,
    report: Report,
    stopping: Callable[[], bool],
) -> bool:
    """Batch after batch until the rule is done (True) or a stop was asked for (False); a
    stop is only ever seen between batches, never inside a transaction."""
    while not stopping():
        async with reader(engine).connect() as conn:
            batch = await rule.find(conn, pacing.batch_size)
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
        await asyncio.sleep(took * pacing.rest_ratio)
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
