"""The Flask Template tables as this import reads them (never creates or writes them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

FIRST_VERSION = "0" * 32  # the `previous_version` of an entity's first version
SOCIAL_PROVIDERS = ("github", "google", "linkedin", "facebook")

_metadata = MetaData()


def _versioned(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name,
        _metadata,
        Column("entity_id", String(32), primary_key=True),
        Column("version", String(32), primary_key=True),
        Column("previous_version", String(32)),
        Column("active", Integer),
        Column("latest", Integer),
        Column("changed_by_id", String(32)),
        Column("changed_on", DateTime()),
        *columns,
    )


person = _versioned(
    "person",
    Column("first_name", String(120)),
    Column("last_name", String(120)),
    Column("email", String(320)),
    Column("password", String(255)),
    Column("verified", Integer),
    Column("verified_on", Integer),
    Column("access_token", String(255)),
    Column("expires_in", Integer),
)
login_method = _versioned(
    "login_method",
    Column("name", String(32)),
    Column("user_name", String(255)),
    Column("email", String(320)),
    Column("person_id", String(32)),
    Column("access_token", Text),
    Column("refresh_token", Text),
    Column("expires_in", Integer),
    Column("refresh_token_expires_in", Integer),
    Column("scope", String(500)),
    Column("token_type", String(32)),
    Column("sub", String(255)),
    Column("data_access_expiration_time", Integer),
)
otp_method = _versioned(
    "otp_method",
    Column("name", String(64)),
    Column("person_id", String(32)),
    Column("secret", String(32)),
    Column("enabled", Integer),
)
recovery_code = _versioned(
    "recovery_code",
    Column("otp_method_id", String(32)),
    Column("token", String(32)),
)
TABLES = (person, login_method, otp_method, recovery_code)
