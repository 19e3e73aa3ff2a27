"""Server-driven social sign-ins in flight (`GET /social/<provider>/authorize` to the POST)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quart_template.db import Base, UTCDateTime


class SocialFlow(Base):
    """One started sign-in, for 10 minutes and one finish. In the database so any instance can
    finish it; keyed by the SHA-256 of the random id its signed `state` carries, so a dump
    names no usable state, and the PKCE verifier is stored encrypted."""

    __tablename__ = "social_flow"
    # Housekeeping walks spent or expired flows in (time, key) order, a range of one at a time.
    __table_args__ = (
        Index("ix_social_flow_expires_at", "expires_at", "id_hash"),
        Index("ix_social_flow_used_at", "used_at", "id_hash"),
    )

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    redirect_uri: Mapped[str] = mapped_column(String(2048), nullable=False)
    code_verifier_encrypted: Mapped[str | None] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
