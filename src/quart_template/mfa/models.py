"""OTP methods, recovery codes and second-factor challenges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from quart_template.db import Base, UTCDateTime
from quart_template.entities import Versioned, audit_table_for


class OtpMethod(Versioned, Base):
    """A person's TOTP secret, encrypted at rest. `last_step` is the last accepted time step:
    storing it is what makes a code single use (pyotp's verify() alone would accept a replay).
    `confirm_step`/`confirmed_at`: the step that confirmed set-up and when, so that one code may
    also turn MFA on shortly after (cleared once used)."""

    __tablename__ = "otp_method"
    __entity__ = "otp_method"
    __redacted__ = frozenset({"secret_encrypted"})

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.entity_id"), nullable=False, index=True
    )
    secret_encrypted: Mapped[str] = deferred(mapped_column(Text, nullable=False))
    confirmed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    confirm_step: Mapped[int | None] = mapped_column(BigInteger)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def owner_id(self) -> str:
        return self.person_id

    def public_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "person_id": self.person_id,
            "confirmed": self.confirmed,
            "active": self.active,
            "version": self.version,
        }


class RecoveryCode(Versioned, Base):
    """One single-use recovery code: a hash to match, and (optionally) an encrypted copy so the
    owner can view unused codes again."""

    __tablename__ = "recovery_code"
    __entity__ = "recovery_code"
    # The hash stays: it matches nothing once the code is spent, and the current row has it.
    __redacted__ = frozenset({"code_encrypted"})

    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.entity_id"), nullable=False, index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    code_encrypted: Mapped[str | None] = deferred(mapped_column(Text))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def owner_id(self) -> str:
        return self.person_id

    def public_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "person_id": self.person_id,
            "used": self.used_at is not None,
            "active": self.active,
            "version": self.version,
        }


class MfaChallenge(Base):
    """A passed first factor (password or social) waiting for the second, for 5 minutes.
    Kept in the database so any instance can finish the login."""

    __tablename__ = "mfa_challenge"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.entity_id"), nullable=False, index=True
    )
    method: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


otp_method_audit = audit_table_for(OtpMethod)
recovery_code_audit = audit_table_for(RecoveryCode)
