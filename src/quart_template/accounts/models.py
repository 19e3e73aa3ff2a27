"""Person and login method: versioned entities with Flask Template's fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from quart_template.db import Base, UTCDateTime
from quart_template.entities import Versioned, audit_table_for


def normalise_email(email: str) -> str:
    """The key two addresses are the same person by: trimmed and case-folded."""
    return email.strip().lower()


def _timestamp(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


class Person(Versioned, Base):
    """A user. `email_key` is the normalised email while active, NULL once deactivated, so the
    unique index means "one active person per email" on SQLite and MySQL alike."""

    __tablename__ = "person"
    __entity__ = "person"
    __redacted__ = frozenset({"password_hash"})

    email: Mapped[str] = mapped_column(String(320), nullable=False)
    email_key: Mapped[str | None] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    # Loaded only where a password is checked or changed.
    password_hash: Mapped[str | None] = deferred(mapped_column(String(255)))
    verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    verified_on: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    @property
    def owner_id(self) -> str:
        return self.entity_id

    def public_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "active": self.active,
            "verified": self.verified,
            "verified_on": _timestamp(self.verified_on),
            "mfa_enabled": self.mfa_enabled,
            "version": self.version,
        }


class LoginMethod(Versioned, Base):
    """A way to sign in: "signup" (email + password) or a provider account. `identity_key` is
    "<provider>:<provider user id>" while active, so one provider account has one owner."""

    __tablename__ = "login_method"
    __entity__ = "login_method"
    __redacted__ = frozenset({"access_token", "refresh_token"})

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.entity_id"), nullable=False, index=True
    )
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    provider_user_id: Mapped[str | None] = mapped_column(String(255))
    identity_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    user_name: Mapped[str | None] = mapped_column(String(255))
    access_token: Mapped[str | None] = deferred(mapped_column(Text))
    refresh_token: Mapped[str | None] = deferred(mapped_column(Text))
    token_type: Mapped[str | None] = mapped_column(String(32))
    scope: Mapped[str | None] = mapped_column(String(500))
    expires_in: Mapped[int | None] = mapped_column(Integer)
    refresh_token_expires_in: Mapped[int | None] = mapped_column(Integer)

    @property
    def owner_id(self) -> str:
        return self.person_id

    def public_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "person_id": self.person_id,
            "provider": self.provider,
            "email": self.email,
            "user_name": self.user_name,
            "active": self.active,
            "version": self.version,
        }


person_audit = audit_table_for(Person)
login_method_audit = audit_table_for(LoginMethod)
