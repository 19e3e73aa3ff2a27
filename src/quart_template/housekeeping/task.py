"""The in-app housekeeping task. Every instance asks now and then whether a run is due; the one
that takes the lease runs it, so N replicas share one schedule and one run at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template.dbfaults import database_unavailable
from quart_template.housekeeping.lease import Lease, new_holder
from quart_template.housekeeping.service import housekeep
from quart_template.settings import Settings

log = logging.getLogger(__name__)

# How often (at most) an instance asks whether a run is due: one UPDATE by key that usually
# matches nothing. Shorter intervals are asked at their own pace.
CHECK_SECONDS = 60.0
# A stop waits for the batch in flight (well under a second); past this it cancels.
STOP_GRACE_SECONDS = 10.0


class Housekeeper:
    """Runs housekeeping every HOUSEKEEPING_INTERVAL seconds (0: never) on whichever instance
    takes the lease; `stop()` ends it between batches and gives the lease back."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        holder: str | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self.lease = Lease(engine, holder=holder or new_holder())
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._database_down = False

    def start(self) -> None:
        if self._settings.housekeeping_interval > 0 and self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        """Let the batch in flight commit, then stop; the next instance due carries on."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        _, late = await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
        for unfinished in late:  # last resort: its transaction rolls back, the lease runs out
            unfinished.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        period = min(self._settings.housekeeping_interval, CHECK_SECONDS)
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=period)
            if not self._stopping:
                await self._run_if_due()

    async def _run_if_due(self) -> None:
        try:
            await housekeep(
                self._engine,
                self._settings,
                lease=self.lease,
                due_only=True,
                stopping=lambda: self._stopping,
            )
        except Exception as error:
            self._failed(error)
            return
        self._database_down = False

    def _failed(self, error: Exception) -> None:
        """A database out of reach is said once (the next check tries again); anything else
        is logged with its traceback."""
        if not database_unavailable(error):
            log.exception("housekeeping failed", extra={"event": "housekeeping_error"})
        elif not self._database_down:
            self._database_down = True
            log.warning(
                "housekeeping: the database is unavailable; the next check tries again",
                extra={"event": "housekeeping_database_unavailable", "error": type(error).__name__},
            )
