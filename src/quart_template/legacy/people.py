"""Old people and login methods as rows here. Werkzeug hashes are kept as they are (they
verify, and become argon2id, at the next login); access tokens are never carried over."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quart_template.accounts.models import normalise_email
from quart_template.accounts.passwords import LEGACY_PREFIXES
from quart_template.legacy.report import Report
from quart_template.legacy.schema import SOCIAL_PROVIDERS
from quart_template.legacy.source import Entity, Row
from quart_template.legacy.target import Target
from quart_template.legacy.versions import Mapped, deactivate, to_rows

PERSON_SECRETS = frozenset({"password_hash"})
METHOD_SECRETS = frozenset({"access_token", "refresh_token"})
KEPT_HASHES = (*LEGACY_PREFIXES, "$argon2id$")
TITLES = {"github": "GitHub", "google": "Google", "linkedin": "LinkedIn", "facebook": "Facebook"}


def _clip(value: Any, limit: int) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text[:limit] or None


def _password(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(KEPT_HASHES) else None


def _person_fields(version: Row) -> dict[str, Any]:
    email = (version["email"] or "").strip()
    verified_on = version["verified_on"]
    return {
        "email": email,
        "email_key": normalise_email(email) if version["active"] else None,
        "first_name": _clip(version["first_name"], 120),
        "last_name": _clip(version["last_name"], 120),
        "password_hash": _password(version["password"]),
        "verified": bool(version["verified"]),
        "verified_on": _from_epoch(verified_on) if verified_on else None,
        "mfa_enabled": None,  # not recorded by the old versions
    }


def _from_epoch(value: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def map_person(
    entity: Entity, *, target: Target, inactive: str | None, mfa_on: bool, report: Report
) -> Mapped | None:
    """The person (None: skipped, with the reason in the report); inactive when deleted,
    when a duplicate lost its email, or when the email belongs to someone else here."""
    email = (entity.current["email"] or "").strip()
    if not email or len(email) > 320 or "@" not in email:
        report.skip("person", entity.entity_id, "no usable email address")
        return None
    mapped = to_rows("person", entity, _person_fields, redacted=PERSON_SECRETS)
    mapped.row["mfa_enabled"] = mfa_on and not entity.deleted
    password = entity.current["password"]
    if password and mapped.row["password_hash"] is None and not entity.deleted:
        report.decide(
            "person",
            entity.entity_id,
            "password hash in an unknown format: not "
            "kept, the person signs in by a password reset or a linked account",
        )
    owner = target.email_owner.get(normalise_email(email))
    if entity.deleted:
        deactivate(mapped, email_key=None, password_hash=None, mfa_enabled=False)
    elif inactive is not None:
        deactivate(mapped, email_key=None)
        report.decide("person", entity.entity_id, f"imported inactive: {inactive}")
    elif owner is not None and owner != entity.entity_id:
        deactivate(mapped, email_key=None)
        report.decide("person", entity.entity_id, f"imported inactive: email is {owner}'s here")
    return mapped


def _method_fields(version: Row) -> dict[str, Any]:
    provider = version["name"]
    uid = _clip(version["sub"], 255) if provider in SOCIAL_PROVIDERS else None
    return {
        "person_id": version["person_id"],
        "provider": provider,
        "provider_user_id": uid,
        "identity_key": f"{provider}:{uid}" if uid and version["active"] else None,
        "email": _clip(version["email"], 320),
        "email_verified": False,
        "user_name": _clip(version["user_name"], 255),
        "access_token": None,
        "refresh_token": None,
        "token_type": None,
        "scope": _clip(version["scope"], 500),
        "expires_in": None,
        "refresh_token_expires_in": None,
    }


def map_login_method(
    entity: Entity, *, target: Target, person_active: bool, inactive: str | None, report: Report
) -> Mapped | None:
    """The login method, keyed by (provider, sub) so the same provider account signs in."""
    provider = entity.current["name"]
    if provider not in (*SOCIAL_PROVIDERS, "signup"):
        report.skip("login_method", entity.entity_id, f"unknown login method {provider!r}")
        return None
    mapped = to_rows("login_method", entity, _method_fields, redacted=METHOD_SECRETS)
    key = mapped.row["identity_key"]
    owner = target.identity_owner.get(key) if key else None
    if entity.deleted or not person_active:
        deactivate(mapped, identity_key=None)
    elif inactive is not None:
        deactivate(mapped, identity_key=None)
        report.decide("login_method", entity.entity_id, f"imported inactive: {inactive}")
    elif owner is not None and owner != entity.entity_id:
        deactivate(mapped, identity_key=None)
        report.decide("login_method", entity.entity_id, f"imported inactive: {key} is {owner}'s")
    elif provider != "signup" and key is None:
        report.decide(
            "login_method",
            entity.entity_id,
            f"no {TITLES[provider]} user id: the next {TITLES[provider]} sign-in with the "
            "person's verified email links it again",
        )
    return mapped
