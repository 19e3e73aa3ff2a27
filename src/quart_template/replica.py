"""DATABASE_READ_URL: a read replica for the reads that may lag a moment behind the primary (token
checks, `/me`, lists of sessions and security events). Writes, and reads that must see the
request's own writes (a login, a recent re-authentication), always go to the primary.

A replica out of reach costs nothing but a warning: the primary answers, and the replica is tried
again after REPLICA_RETRY_SECONDS. A replica that has not caught up yet (a token issued a moment
ago) is asked again of the primary whenever the replica found nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template.db import reader
from quart_template.dbfaults import database_unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
REPLICA_RETRY_SECONDS = 30.0


class Replica:
    """The replica's engine and whether it is currently worth asking."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._retry_at = 0.0
        self._down = False  # warned once for this outage; say when it is back

    async def read(
        self,
        primary: AsyncEngine,
        work: Callable[[AsyncEngine], Awaitable[T]],
        *,
        missed: Callable[[T], bool] | None = None,
    ) -> T:
        """`work` on the replica, or on the primary when the replica is out of reach or
        `missed` says its answer may just be behind."""
        if time.monotonic() >= self._retry_at:
            try:
                result = await work(reader(self.engine))
            except Exception as error:
                if not database_unavailable(error):
                    raise
                self._went_away(error)
            else:
                self._came_back()
                if missed is None or not missed(result):
                    return result
        return await work(reader(primary))

    def _went_away(self, error: BaseException) -> None:
        self._retry_at = time.monotonic() + REPLICA_RETRY_SECONDS
        if not self._down:
            log.warning(
                "read replica unreachable; reading from the primary until it is back",
                extra={"event": "replica_down", "error": type(error).__name__},
            )
        self._down = True

    def _came_back(self) -> None:
        if self._down:
            log.info("read replica reachable again", extra={"event": "replica_back"})
        self._down = False


async def read_lagging(
    primary: AsyncEngine,
    replica: Replica | None,
    work: Callable[[AsyncEngine], Awaitable[T]],
    *,
    missed: Callable[[T], bool] | None = None,
) -> T:
    """`work` where reads that may lag belong: the replica when there is one, else the primary."""
    if replica is None:
        return await work(reader(primary))
    return await replica.read(primary, work, missed=missed)
