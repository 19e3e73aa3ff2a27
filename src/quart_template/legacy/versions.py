"""An old entity's versions as rows here: the current one for the table, the earlier ones for
its `_audit` history (numbered 1, 2, ... in order, secrets reduced to the redaction marker)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from quart_template.db import utcnow
from quart_template.entities import REDACTED
from quart_template.legacy.source import Entity, Row, utc


@dataclass
class Mapped:
    """One entity ready to write: its current row and its earlier versions."""

    table: str
    entity_id: str
    row: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.row["active"])


def _base(entity: Entity, index: int, version: Row) -> dict[str, Any]:
    """The versioned fields every table has."""
    return {
        "entity_id": entity.entity_id,
        "version": index + 1,
        "previous_version": index or None,
        "active": bool(version["active"]),
        "changed_by_id": version["changed_by_id"] or None,
        "changed_on": utc(version["changed_on"]) or utcnow(),
    }


def _redact(values: dict[str, Any], redacted: Collection[str]) -> dict[str, Any]:
    """History keeps only whether a secret was set, like the audit copies the app makes."""
    return {k: (REDACTED if k in redacted and v is not None else v) for k, v in values.items()}


def to_rows(
    table: str,
    entity: Entity,
    fields: Callable[[Row], dict[str, Any]],
    *,
    redacted: Collection[str] = (),
) -> Mapped:
    """`fields` maps one old version to this table's own columns (the base ones are added);
    each earlier version was audited when the next one replaced it."""
    rows = [
        {**_base(entity, i, version), **fields(version)}
        for i, version in enumerate(entity.versions)
    ]
    history = []
    for earlier, later in pairwise(rows):
        history.append({**_redact(earlier, redacted), "audited_on": later["changed_on"]})
    return Mapped(table, entity.entity_id, rows[-1], history)


def deactivate(mapped: Mapped, **cleared: Any) -> None:
    """Make the current row inactive (the history stays as it was)."""
    mapped.row["active"] = False
    mapped.row.update(cleared)
