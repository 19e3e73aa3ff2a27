"""Drains the outbox: one loop per destination (one being down never holds back the others),
each claiming a bounded batch, delivering it in per-entity order and recording the results.
A row is marked sent only after its destination confirmed it. Inside an API process the relay
keeps to a pace while requests are being served (`Pace`), so draining a backlog after an outage
does not become an outage of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template.dbfaults import database_unavailable
from quart_template.events.claims import Claim, Outcome, claim_rows, claim_sessions, settle
from quart_template.events.destinations import Destination, NotAttempted, PermanentDeliveryError
from quart_template.events.outbox import Claimed
from quart_template.metrics import count_deliveries, known_destinations

log = logging.getLogger(__name__)

Sender = Callable[[Claimed], Awaitable[None]]

STOP_GRACE_SECONDS = 15.0
MAX_PAUSE_SECONDS = 30.0
# A paced pass is this long a slice of the rate: small claims, so no single pass holds the
# event loop (building and publishing its messages) long enough for a request to notice.
PACED_PASS_SECONDS = 0.2


@dataclass
class Pace:
    """At most `rate` events per second per destination while `busy()` (the API is serving
    requests), as fast as the destination takes them otherwise. Shared by the destination's
    workers: each claim books its rows' share of the second."""

    rate: float
    busy: Callable[[], bool]
    clock: Callable[[], float] = time.monotonic
    _next: dict[str, float] = field(default_factory=dict)

    def batch(self, destination: Destination) -> int:
        if not self.busy():
            return destination.batch_size
        return max(1, min(destination.batch_size, int(self.rate * PACED_PASS_SECONDS)))

    def delay(self, name: str) -> float:
        """Seconds to wait before the next claim (0 when the API is idle)."""
        if not self.busy():
            self._next.pop(name, None)
            return 0.0
        return max(0.0, self._next.get(name, 0.0) - self.clock())

    def book(self, name: str, rows: int) -> None:
        """Book the rows' share of the second after the last booking. A claim that comes late
        by less than a slice (a loaded event loop fires its timers late, by tens of ms) keeps
        its slot rather than starting the clock anew, so the rate holds on average; booked
        from the late start instead, every wake-up's delay was lost (950 events/s under load
        on MariaDB, 800 on SQLite, at a rate of 1,200). After a longer pause it starts anew."""
        if rows and self.busy():
            now, last = self.clock(), self._next.get(name)
            start = last if last is not None and now - last <= PACED_PASS_SECONDS else now
            self._next[name] = start + rows / self.rate


def waves(rows: Sequence[Claimed]) -> list[list[Claimed]]:
    """Wave k holds the k-th row of every entity: rows within a wave may go out together."""
    queues: dict[str, list[Claimed]] = {}
    for row in rows:
        queues.setdefault(row.entity_id or row.message_id, []).append(row)
    depth = max((len(queue) for queue in queues.values()), default=0)
    return [[queue[k] for queue in queues.values() if len(queue) > k] for k in range(depth)]


class OutboxRelay:
    """Delivers outbox rows at least once; `kick()` wakes it right after a commit."""

    def __init__(
        self,
        engine: AsyncEngine,
        destinations: Sequence[Destination],
        *,
        poll_interval: float = 1.0,
        workers: int = 2,
        pace: Pace | None = None,
    ) -> None:
        self._db = claim_sessions(engine)
        self.destinations = {destination.name: destination for destination in destinations}
        known_destinations(self.destinations)
        self._poll_interval = poll_interval
        self._wake = {name: asyncio.Event() for name in self.destinations}
        self._workers = workers
        self._pace = pace
        self._busy = dict.fromkeys(self.destinations, 0)
        self._settled = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._database_down = False
        self._stopped = asyncio.Event()

    def kick(self) -> None:
        for event in self._wake.values():
            event.set()

    def start(self) -> None:
        if not self._tasks:
            self._stopping = False
            self._stopped.clear()
            # Two workers per destination: one claims or settles while the other publishes;
            # their batches never share an entity (see claims.py), so order holds.
            self._tasks = [
                asyncio.create_task(self._run(destination), name=f"outbox-relay-{name}-{n}")
                for name, destination in self.destinations.items()
                for n in range(self._workers)
            ]

    async def stop(self) -> None:
        """Finish the wave in flight, release the rest of the batch; pending rows stay."""
        self._stopping = True
        self._stopped.set()
        self.kick()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        for task in late:  # its leased rows become due again when the lease ends
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def drain(self, max_passes: int = 50, ready_timeout: float = 5.0) -> None:
        """Deliver everything deliverable now (tests, the CLI); waits for a pass in flight."""
        for name, destination in self.destinations.items():
            if not await destination.wait_available(ready_timeout):
                continue
            for _ in range(max_passes):
                claimed, _ = await self._pass(destination)
                if claimed:
                    continue
                if self._busy[name] == 0:
                    break
                await self._until_idle(name)

    async def _until_idle(self, name: str) -> None:
        async with self._settled:
            await self._settled.wait_for(lambda: self._busy[name] == 0)

    async def _run(self, destination: Destination) -> None:
        wake = self._wake[destination.name]
        pause = 0.0
        while not self._stopping:
            if not destination.available():
                await destination.wait_available(self._poll_interval)
                continue
            wake.clear()
            if self._pace is not None and (wait := self._pace.delay(destination.name)) > 0:
                await self._sleep(wait)
                continue
            try:
                claimed, delivered = await self._pass(destination)
                self._database_back()
            except Exception as error:
                self._pass_failed(error)
                claimed, delivered = 0, 0
            if claimed and not delivered:
                pause = min(MAX_PAUSE_SECONDS, max(self._poll_interval, pause * 2))
                await self._sleep(pause)  # the destination refuses everything: back off
                continue
            pause = 0.0
            if claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=self._poll_interval)

    def _pass_failed(self, error: Exception) -> None:
        """A database out of reach is said once (it is not a bug, and rows wait); anything else
        is logged with its traceback."""
        if not database_unavailable(error):
            log.exception("outbox relay pass failed", extra={"event": "relay_error"})
        elif not self._database_down:
            self._database_down = True
            log.warning(
                "outbox relay: the database is unavailable; rows wait until it is back",
                extra={"event": "relay_database_unavailable", "error": type(error).__name__},
            )

    def _database_back(self) -> None:
        if self._database_down:
            self._database_down = False
            log.info("outbox relay: the database is back", extra={"event": "relay_database_back"})

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def _pass(self, destination: Destination) -> tuple[int, int]:
        """Claim one batch, deliver it wave by wave, settle; returns (claimed, delivered)."""
        self._busy[destination.name] += 1
        try:
            size = self._pace.batch(destination) if self._pace else destination.batch_size
            claim = await claim_rows(self._db, destination.name, size)
            if not claim.rows:
                return 0, 0
            if self._pace is not None:
                self._pace.book(destination.name, len(claim.rows))
            outcome = await self._deliver(destination, claim)
            count_deliveries(
                destination.name,
                sent=len(outcome.sent),
                retried=len(outcome.failed),
                dead=len(outcome.dead),
            )
            await settle(self._db, claim, outcome)
            _log_failures(destination.name, outcome)
            return len(claim.rows), len(outcome.sent)
        finally:
            self._busy[destination.name] -= 1
            async with self._settled:
                self._settled.notify_all()

    async def _deliver(self, destination: Destination, claim: Claim) -> Outcome:
        outcome = Outcome()
        stuck: set[str] = set()  # entities whose earlier row failed in this batch
        for wave in waves(claim.rows):
            ready = [row for row in wave if (row.entity_id or row.message_id) not in stuck]
            if len(ready) < len(wave):
                outcome.released.extend(r for r in wave if (r.entity_id or r.message_id) in stuck)
            if not ready:
                continue
            if self._stopping:
                outcome.released.extend(ready)
                continue
            results = await destination.deliver(ready)
            for row, error in zip(ready, results, strict=True):
                if error is None:
                    outcome.sent.append(row)
                    continue
                stuck.add(row.entity_id or row.message_id)
                if isinstance(error, NotAttempted):
                    outcome.released.append(row)
                elif isinstance(error, PermanentDeliveryError):
                    outcome.dead.append((row, error))
                else:
                    outcome.failed.append((row, error))
        return outcome


def _log_failures(destination: str, outcome: Outcome) -> None:
    for row, error in outcome.failed[:5]:
        log.warning(
            "outbox delivery failed",
            extra={
                "event": "outbox_retry",
                "destination": destination,
                "message_id": row.message_id,
                "attempts": row.attempts + 1,
                "error": type(error).__name__,
            },
        )
    for row, error in outcome.dead:
        log.error(
            "outbox message refused for good",
            extra={
                "event": "outbox_dead",
                "destination": destination,
                "message_id": row.message_id,
                "error": type(error).__name__,
            },
        )
