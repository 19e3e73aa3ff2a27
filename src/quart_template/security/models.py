"""The per-person security history: append-only rows (no versions, no entity events)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from quart_template.db import Base, BigIntPK, UTCDateTime


class SecurityEvent(Base):
    """Something that happened to a person's account: who did it from where, never a secret."""

    __tablename__ = "security_event"
    __table_args__ = (Index("ix_security_event_person_at", "person_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(32), nullable=False)
    type: Mapped[str] = mapped_column(String(40), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
