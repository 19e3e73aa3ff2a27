"""What an import did (or, dry, would do): counts per table, every row left out and why, and
the decisions an operator should know of (duplicates, provider accounts to relink)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

TABLES = ("person", "login_method", "otp_method", "recovery_code")
NOT_IMPORTED = (
    "Old access tokens (sessions and provider tokens) were not imported: everyone signs in "
    "again, with the same password, authenticator, recovery codes and linked accounts."
)


@dataclass(frozen=True)
class Note:
    """One row that needs a word: skipped (not imported) or imported with a decision."""

    table: str
    entity_id: str
    reason: str


@dataclass
class Report:
    """Counts are per table: `imported` current rows (of which `inactive`), `history` earlier
    versions written to `<table>_audit`, `present` rows already here (left untouched)."""

    dry_run: bool = False
    imported: Counter[str] = field(default_factory=Counter)
    inactive: Counter[str] = field(default_factory=Counter)
    history: Counter[str] = field(default_factory=Counter)
    present: Counter[str] = field(default_factory=Counter)
    skipped: list[Note] = field(default_factory=list)
    decisions: list[Note] = field(default_factory=list)
    seconds: float = 0.0

    def skip(self, table: str, entity_id: str, reason: str) -> None:
        """A row left out: listed in the report with why."""
        self.skipped.append(Note(table, entity_id, reason))

    def decide(self, table: str, entity_id: str, reason: str) -> None:
        """A row imported with a decision the operator should know of."""
        self.decisions.append(Note(table, entity_id, reason))

    def merge(self, other: Report) -> None:
        """Add a batch's report (written only once its transaction committed)."""
        for mine, theirs in (
            (self.imported, other.imported),
            (self.inactive, other.inactive),
            (self.history, other.history),
            (self.present, other.present),
        ):
            mine.update(theirs)
        self.skipped += other.skipped
        self.decisions += other.decisions

    def summary(self) -> str:
        """The one line a log or a cron mail shows."""
        verb = "would import" if self.dry_run else "imported"
        counts = ", ".join(f"{self.imported[t]} {t}" for t in TABLES)
        return (
            f"import-legacy: {verb} {counts}; {sum(self.history.values())} earlier versions; "
            f"{sum(self.present.values())} already here; {len(self.skipped)} skipped "
            f"({self.seconds:.1f} s)"
        )

    def lines(self) -> list[str]:
        """The full report: a table of counts, then every skipped row and every decision."""
        head = "would import" if self.dry_run else "imported"
        lines = [
            f"import-legacy ({'dry run, nothing written' if self.dry_run else 'done'}):",
            f"  {'table':<14} {head:>12} {'inactive':>9} {'history':>8} {'present':>8} "
            f"{'skipped':>8}",
        ]
        skipped = Counter(note.table for note in self.skipped)
        for table in TABLES:
            lines.append(
                f"  {table:<14} {self.imported[table]:>12} {self.inactive[table]:>9} "
                f"{self.history[table]:>8} {self.present[table]:>8} {skipped[table]:>8}"
            )
        if self.skipped:
            lines.append("skipped (not imported):")
            lines += [f"  {n.table} {n.entity_id}: {n.reason}" for n in self.skipped]
        if self.decisions:
            lines.append("imported with a decision:")
            lines += [f"  {n.table} {n.entity_id}: {n.reason}" for n in self.decisions]
        lines.append(NOT_IMPORTED)
        lines.append(self.summary())
        return lines
