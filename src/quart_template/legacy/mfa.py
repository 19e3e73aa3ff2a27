"""Old OTP methods and recovery codes as rows here: the plain base32 secret encrypted for its
row, each plain code hashed (and, when codes are viewable, kept encrypted too)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from quart_template.entities import REDACTED
from quart_template.legacy.report import Report
from quart_template.legacy.source import Entity, Row
from quart_template.legacy.versions import Mapped, deactivate, to_rows
from quart_template.mfa.checks import secret_context
from quart_template.mfa.crypto import encrypt_text
from quart_template.mfa.recovery import copy_context
from quart_template.mfa.recovery_codes import hash_code, normalise_code
from quart_template.settings import Settings

OTP_SECRETS = frozenset({"secret_encrypted"})
CODE_SECRETS = frozenset({"code_encrypted"})


def readable_secret(secret: Any) -> str | None:
    """The secret as pyotp takes it (upper case, no spaces), or None when it is not base32."""
    if not isinstance(secret, str):
        return None
    cleaned = secret.replace(" ", "").upper()
    try:
        base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        return None
    return cleaned or None


def current_otp(entities: list[Entity]) -> dict[str, Entity]:
    """Per person, the active OTP method that stays (the most recently changed; here a
    person has at most one)."""
    kept: dict[str, Entity] = {}
    for entity in entities:
        if entity.deleted:
            continue
        person_id = entity.current["person_id"]
        other = kept.get(person_id)
        if other is None or _changed(entity) > _changed(other):
            kept[person_id] = entity
    return kept


def _changed(entity: Entity) -> tuple[datetime, str]:
    return (entity.current["changed_on"] or datetime.min, entity.entity_id)


def map_otp_method(
    entity: Entity, *, settings: Settings, person_active: bool, kept: bool, report: Report
) -> Mapped | None:
    """The method with its secret sealed for this row; `enabled` is a confirmed method."""
    secret = readable_secret(entity.current["secret"])
    if secret is None and not entity.deleted:
        report.skip("otp_method", entity.entity_id, "the secret is not base32")
        return None
    sealed = (
        encrypt_text(secret, key=settings.encryption_key, context=secret_context(entity.entity_id))
        if secret and not entity.deleted
        else REDACTED
    )

    def fields(version: Row) -> dict[str, Any]:
        return {
            "person_id": version["person_id"],
            "secret_encrypted": sealed,
            "confirmed": bool(version["enabled"]),
            "last_step": None,
            "confirm_step": None,
            "confirmed_at": None,
        }

    mapped = to_rows("otp_method", entity, fields, redacted=OTP_SECRETS)
    if not entity.deleted and not kept:
        deactivate(mapped)
        report.decide(
            "otp_method",
            entity.entity_id,
            "imported inactive: a newer OTP method of the same person is the one kept",
        )
    elif not person_active:
        deactivate(mapped)
    return mapped


def map_recovery_code(
    entity: Entity, *, settings: Settings, person_id: str, usable: bool, report: Report
) -> Mapped | None:
    """The code as its hash (plus a sealed copy when viewable); a deleted one was used."""
    code = normalise_code(entity.current["token"] or "")
    if code is None:
        report.skip("recovery_code", entity.entity_id, "not a recovery code (32 hex characters)")
        return None
    copy = None
    if settings.recovery_codes_viewable and usable and not entity.deleted:
        copy = encrypt_text(
            code, key=settings.encryption_key, context=copy_context(entity.entity_id)
        )

    def fields(version: Row) -> dict[str, Any]:
        raw = normalise_code(version["token"] or "") or code
        return {
            "person_id": person_id,
            "code_hash": hash_code(raw),
            "code_encrypted": copy,
            "used_at": None,
        }

    mapped = to_rows("recovery_code", entity, fields, redacted=CODE_SECRETS)
    if not usable:
        deactivate(mapped, code_encrypted=None)
    return mapped
