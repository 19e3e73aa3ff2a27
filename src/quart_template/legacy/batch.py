"""One batch of old people and everything of theirs, mapped in dependency order: OTP methods
are looked at first (they say whose MFA is on), then people, then login methods, OTP methods
and recovery codes (active only where their person is)."""

from __future__ import annotations

from dataclasses import dataclass, field

from quart_template.legacy.mfa import (
    current_otp,
    map_otp_method,
    map_recovery_code,
    readable_secret,
)
from quart_template.legacy.people import map_login_method, map_person
from quart_template.legacy.plan import Plan
from quart_template.legacy.report import Report
from quart_template.legacy.source import Batch, Entity
from quart_template.legacy.target import Target
from quart_template.legacy.versions import Mapped
from quart_template.settings import Settings


@dataclass
class _Batch:
    """What the mappers of one batch share."""

    plan: Plan
    target: Target
    settings: Settings
    report: Report
    kept_otp: dict[str, Entity]
    active: dict[str, bool] = field(default_factory=dict)  # person id -> active here
    otp_owner: dict[str, str] = field(default_factory=dict)  # OTP method id -> person id
    usable_otp: set[str] = field(default_factory=set)

    def new(self, entities: list[Entity], table: str) -> list[Entity]:
        """The entities not imported yet; the others are counted and left as they are."""
        present = self.target.present.get(table, set())
        fresh = [e for e in entities if e.entity_id not in present]
        self.report.present[table] += len(entities) - len(fresh)
        return fresh

    def owner_known(self, table: str, entity: Entity) -> bool:
        """Whether the entity's person is here (or comes with this batch)."""
        if entity.current["person_id"] in self.active:
            return True
        self.report.skip(table, entity.entity_id, "its person was skipped")
        return False


def _people(ctx: _Batch, batch: Batch) -> list[Mapped]:
    # MFA is on only with a secret that comes along: else nobody could pass the second step.
    mfa_on = {
        pid
        for pid, e in ctx.kept_otp.items()
        if e.current["enabled"] and readable_secret(e.current["secret"])
    }
    rows = []
    for entity in ctx.new(batch.people, "person"):
        mapped = map_person(
            entity,
            target=ctx.target,
            inactive=ctx.plan.inactive_people.get(entity.entity_id),
            mfa_on=entity.entity_id in mfa_on,
            report=ctx.report,
        )
        if mapped is not None:
            rows.append(mapped)
            ctx.active[entity.entity_id] = mapped.active
    return rows


def _login_methods(ctx: _Batch, batch: Batch) -> list[Mapped]:
    rows = []
    for entity in ctx.new(batch.login_methods, "login_method"):
        if not ctx.owner_known("login_method", entity):
            continue
        mapped = map_login_method(
            entity,
            target=ctx.target,
            person_active=ctx.active[entity.current["person_id"]],
            inactive=ctx.plan.inactive_methods.get(entity.entity_id),
            report=ctx.report,
        )
        rows.extend([mapped] if mapped else [])
    return rows


def _otp_methods(ctx: _Batch, batch: Batch) -> list[Mapped]:
    present = ctx.target.present.get("otp_method", set())
    for entity in batch.otp_methods:  # codes added to a method imported by an earlier run
        if entity.entity_id in present:
            ctx.otp_owner[entity.entity_id] = entity.current["person_id"]
            if ctx.kept_otp.get(entity.current["person_id"]) is entity:
                ctx.usable_otp.add(entity.entity_id)
    rows = []
    for entity in ctx.new(batch.otp_methods, "otp_method"):
        if not ctx.owner_known("otp_method", entity):
            continue
        person_id = entity.current["person_id"]
        mapped = map_otp_method(
            entity,
            settings=ctx.settings,
            person_active=ctx.active[person_id],
            kept=ctx.kept_otp.get(person_id) is entity,
            report=ctx.report,
        )
        if mapped is not None:
            rows.append(mapped)
            ctx.otp_owner[entity.entity_id] = person_id
            if mapped.active:
                ctx.usable_otp.add(entity.entity_id)
    return rows


def _recovery_codes(ctx: _Batch, batch: Batch) -> list[Mapped]:
    rows = []
    for entity in ctx.new(batch.recovery_codes, "recovery_code"):
        otp_id = entity.current["otp_method_id"]
        if otp_id not in ctx.otp_owner:
            ctx.report.skip("recovery_code", entity.entity_id, "its OTP method was skipped")
            continue
        mapped = map_recovery_code(
            entity,
            settings=ctx.settings,
            person_id=ctx.otp_owner[otp_id],
            usable=otp_id in ctx.usable_otp and not entity.deleted,
            report=ctx.report,
        )
        rows.extend([mapped] if mapped else [])
    return rows


def _count(mapped: list[Mapped], report: Report) -> list[Mapped]:
    for m in mapped:
        report.imported[m.table] += 1
        report.inactive[m.table] += 0 if m.active else 1
        report.history[m.table] += len(m.history)
    return mapped


def map_batch(
    batch: Batch, *, plan: Plan, target: Target, settings: Settings, report: Report
) -> dict[str, list[Mapped]]:
    """The rows to write for the batch, per table in insertion order."""
    ctx = _Batch(plan, target, settings, report, current_otp(batch.otp_methods))
    ctx.active.update(target.person_active)
    return {
        "person": _count(_people(ctx, batch), report),
        "login_method": _count(_login_methods(ctx, batch), report),
        "otp_method": _count(_otp_methods(ctx, batch), report),
        "recovery_code": _count(_recovery_codes(ctx, batch), report),
    }
