"""Decisions taken over the whole old database before any batch, so that every batch (and
every re-run) decides alike: which of two active people with one email stays active, and
which of two methods with one provider account keeps it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from quart_template.accounts.models import normalise_email
from quart_template.legacy.source import Row

VERIFIED_WINS = "the most recently changed verified person with it"
LATEST_WINS = "the most recently changed person with it (none is verified)"


@dataclass(frozen=True)
class Plan:
    """Old entity id -> why it is imported inactive."""

    inactive_people: dict[str, str] = field(default_factory=dict)
    inactive_methods: dict[str, str] = field(default_factory=dict)


def _recency(row: Row) -> tuple[datetime, str]:
    return (row["changed_on"] or datetime.min, row["entity_id"])


def duplicate_people(people: list[Row]) -> dict[str, str]:
    """Among active people sharing a normalised email, the most recently changed verified
    one wins (the most recently changed one when none is verified); the others lose."""
    by_email: dict[str, list[Row]] = defaultdict(list)
    for row in people:
        if row["email"]:
            by_email[normalise_email(row["email"])].append(row)
    losers: dict[str, str] = {}
    for email, rows in by_email.items():
        if len(rows) < 2:
            continue
        winner = max(rows, key=lambda r: (bool(r["verified"]), *_recency(r)))
        why = VERIFIED_WINS if winner["verified"] else LATEST_WINS
        for row in rows:
            if row is not winner:
                losers[row["entity_id"]] = f"email {email} stays with {winner['entity_id']}, {why}"
    return losers


def duplicate_identities(methods: list[Row], active_people: set[str]) -> dict[str, str]:
    """Of the active methods of active people with one (provider, user id), the most
    recently changed keeps the account; the others are imported inactive."""
    by_key: dict[str, list[Row]] = defaultdict(list)
    for row in methods:
        if row["sub"] and row["person_id"] in active_people:
            by_key[f"{row['name']}:{str(row['sub']).strip()}"].append(row)
    losers: dict[str, str] = {}
    for key, rows in by_key.items():
        winner = max(rows, key=_recency)
        for row in rows:
            if row is not winner:
                losers[row["entity_id"]] = f"{key} is also {winner['entity_id']}'s, kept there"
    return losers


def make_plan(people: list[Row], methods: list[Row]) -> Plan:
    """The plan from the active current people and provider methods."""
    inactive_people = duplicate_people(people)
    active = {row["entity_id"] for row in people} - set(inactive_people)
    return Plan(inactive_people, duplicate_identities(methods, active))
