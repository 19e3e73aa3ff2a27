"""`quart-template housekeeping [--dry-run]`: one run now, whatever the schedule says (still
under the lease, so never beside a run of the app), and what it deleted per table."""

from __future__ import annotations

from quart_template.housekeeping.lease import Lease, new_holder
from quart_template.housekeeping.service import Report, housekeep
from quart_template.migrations import open_database
from quart_template.settings import Settings


async def run_housekeeping(settings: Settings, *, dry_run: bool = False) -> int:
    """Run (or count) once and print the result; 0 also when another instance was running
    it (that run does the work)."""
    engine = await open_database(settings)
    try:
        lease = Lease(engine, holder=f"cli:{new_holder()}")
        report = await housekeep(engine, settings, lease=lease, dry_run=dry_run)
    finally:
        await engine.dispose()
    print("\n".join(report_lines(report, settings)))
    return 0


def report_lines(report: Report, settings: Settings) -> list[str]:
    """The per-table counts as a small table, and what this run keeps on purpose."""
    if not report.ran:
        return [f"housekeeping: skipped, {report.holder or 'another instance'} is running it"]
    verb = "would delete" if report.dry_run else "deleted"
    width = max((len(table) for table in report.counts), default=0)
    lines = [f"housekeeping: {verb} {report.total} rows"]
    lines += [f"  {table:<{width}}  {count}" for table, count in report.counts.items()]
    if settings.audit_retention is None:
        lines.append("  audit history (*_audit): kept, AUDIT_RETENTION is unset")
    if settings.security_event_retention is None:
        lines.append("  security_event: kept, SECURITY_EVENT_RETENTION is empty")
    lines.append("  outbox rows that are pending or dead: kept")
    if report.stopped:
        lines.append("housekeeping: stopped before the end; the next run carries on")
    return lines
