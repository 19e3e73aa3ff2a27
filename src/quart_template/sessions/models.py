"""Server-side sessions: a token is only as good as its row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from quart_template.db import Base, UTCDateTime
from quart_template.entities import Versioned, audit_table_for


class AuthSession(Versioned, Base):
    """One signed-in client. Keyed by the SHA-256 of the random session id inside the token,
    so a database dump holds no usable token."""

    __tablename__ = "session"
    __entity__ = "session"
    # Touching last use, or refreshing the proof, is bookkeeping, not a new version or an event.
    __unversioned__ = frozenset({"last_used_at", "proved_at"})
    # Housekeeping walks ended sessions in (time, key) order and deletes them a range of one of
    # these at a time; the key inside the index keeps that a range when many times are equal.
    __table_args__ = (
        Index("ix_session_expires_at", "expires_at", "entity_id"),
        Index("ix_session_revoked_at", "revoked_at", "entity_id"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.entity_id"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # When the holder last proved a credential in this session (at sign-in, then by
    # re-authenticating): factor changes need a recent one.
    proved_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def owner_id(self) -> str:
        return self.person_id

    def public_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "person_id": self.person_id,
            "created_at": int(self.created_at.timestamp()),
            "expires_at": int(self.expires_at.timestamp()),
            "active": self.active,
            "version": self.version,
        }


session_audit = audit_table_for(AuthSession)
