"""What this database already holds of a batch: imported entity ids (left untouched, which
makes a re-run change nothing), and emails or provider accounts that belong to someone here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quart_template.accounts.models import LoginMethod, Person, normalise_email
from quart_template.legacy.schema import SOCIAL_PROVIDERS
from quart_template.legacy.source import Batch
from quart_template.mfa.models import OtpMethod, RecoveryCode

TARGET_TABLES: dict[str, Table] = {
    "person": Person.__table__,  # type: ignore[dict-item]
    "login_method": LoginMethod.__table__,  # type: ignore[dict-item]
    "otp_method": OtpMethod.__table__,  # type: ignore[dict-item]
    "recovery_code": RecoveryCode.__table__,  # type: ignore[dict-item]
}


@dataclass
class Target:
    """`present`: ids per table already here; `person_active`: of the present people."""

    present: dict[str, set[str]] = field(default_factory=dict)
    person_active: dict[str, bool] = field(default_factory=dict)
    email_owner: dict[str, str] = field(default_factory=dict)
    identity_owner: dict[str, str] = field(default_factory=dict)


async def _pairs(
    conn: AsyncConnection, table: Table, key: str, value: str, wanted: Iterable[str]
) -> list[tuple[Any, Any]]:
    """(key, value) of the rows whose `key` is one of `wanted`."""
    values = sorted(set(wanted))
    if not values:
        return []
    query = select(table.c[key], table.c[value]).where(table.c[key].in_(values))
    return [(row[0], row[1]) for row in await conn.execute(query)]


async def read_target(conn: AsyncConnection, batch: Batch) -> Target:
    """The part of this database the batch could collide with."""
    target = Target()
    groups = {
        "person": batch.people,
        "login_method": batch.login_methods,
        "otp_method": batch.otp_methods,
        "recovery_code": batch.recovery_codes,
    }
    for name, entities in groups.items():
        table = TARGET_TABLES[name]
        found = await _pairs(conn, table, "entity_id", "active", (e.entity_id for e in entities))
        target.present[name] = {entity_id for entity_id, _ in found}
        if name == "person":
            target.person_active = {entity_id: bool(active) for entity_id, active in found}
    emails = (normalise_email(e.current["email"]) for e in batch.people if e.current["email"])
    people = TARGET_TABLES["person"]
    for email_key, owner in await _pairs(conn, people, "email_key", "entity_id", emails):
        target.email_owner[email_key] = owner
    keys = (
        f"{e.current['name']}:{str(e.current['sub']).strip()}"
        for e in batch.login_methods
        if e.current["name"] in SOCIAL_PROVIDERS and e.current["sub"]
    )
    methods = TARGET_TABLES["login_method"]
    for identity_key, owner in await _pairs(conn, methods, "identity_key", "entity_id", keys):
        target.identity_owner[identity_key] = owner
    return target
