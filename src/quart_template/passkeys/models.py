"""Passkeys and the challenges of their ceremonies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quart_template.db import Base, UTCDateTime
from quart_template.entities import Versioned, audit_table_for


def _timestamp(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


class Passkey(Versioned, Base):
    """A WebAuthn credential of a person: its id and public key (the private key never leaves
    the authenticator, so nothing here is secret). `credential_key` is the SHA-256 of the
    credential id while active, NULL once removed, so one credential has one owner.
    `sign_count` and `last_used_at` change at every sign-in: bookkeeping, not versions."""

    __tablename__ = "passkey"
    __entity__ = "passkey"
    __unversioned__ = frozenset({"sign_count", "last_used_at"})

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.entity_id"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    credential_id: Mapped[str] = mapped_column(Text, nullable=False)  # base64url
    credential_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(Text, nullable=False)  # COSE key, base64url
    sign_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    transports: Mapped[str | None] = mapped_column(String(200))  # comma-separated
    aaguid: Mapped[str | None] = mapped_column(String(36))
    backup_eligible: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def owner_id(self) -> str:
        return self.person_id

    def public_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "person_id": self.person_id,
            "name": self.name,
            "created": _timestamp(self.created_at),
            "backup_eligible": self.backup_eligible,
            "backed_up": self.backed_up,
            "active": self.active,
            "version": self.version,
        }


class PasskeyChallenge(Base):
    """The challenge of one ceremony, kept in the database (any instance may finish it) by its
    SHA-256 and spent once: `purpose` "register" (for `person_id`), "login" (for whoever
    holds the passkey) or "second_factor" (for `person_id`, finishing the login whose MFA
    challenge is `mfa_challenge`)."""

    __tablename__ = "passkey_challenge"

    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    person_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("person.entity_id"), index=True
    )
    mfa_challenge: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


passkey_audit = audit_table_for(Passkey)
