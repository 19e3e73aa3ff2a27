"""The lease that lets one instance at a time do housekeeping, and remembers when it is due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from quart_template.db import Base, UTCDateTime


class HousekeepingLease(Base):
    """One row per kind of periodic work. `holder` is the instance running it (NULL when nobody
    is), `expires_at` the end of its lease (renewed every batch, so a holder that died frees it),
    `due_at` when the next in-app run may start: replicas share one schedule, and restarts do
    not postpone it."""

    __tablename__ = "housekeeping_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
