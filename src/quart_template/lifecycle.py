"""The composition root: the one place that builds the runtime (engine, sessions, HTTP client,
rate limiter, token cache and its Redis bus, Pusher, event delivery, housekeeping, the pool
metrics of multiprocess mode) and closes it
again, for the app and for `quart-template relay` alike."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

import httpx

from quart_template.db import make_engine, make_session_factory
from quart_template.email.service import build_email_sender
from quart_template.events.destinations import Destination, SenderDestination
from quart_template.events.metrics import outbox_metrics
from quart_template.events.outbox import EMAIL, CommitSignal, session_info
from quart_template.events.relay import OutboxRelay, Pace
from quart_template.housekeeping.task import Housekeeper
from quart_template.logs import configure_logging
from quart_template.metrics import multiprocess_dir, process_ends, sample_pool_every
from quart_template.migrations import open_database
from quart_template.ratelimit import CredentialLimiter
from quart_template.replica import Replica
from quart_template.runtime import Runtime
from quart_template.sessions import invalidation
from quart_template.sessions.cache import SessionCache
from quart_template.settings import Settings

if TYPE_CHECKING:
    from quart_template.sessions.bus import RevocationBus

log = logging.getLogger(__name__)

# In-app, commits wake the relay; a relay process only sees them by polling, so it polls often
# (an indexed query that finds nothing is cheap).
IN_APP_POLL_SECONDS = 1.0
STANDALONE_POLL_SECONDS = 0.1
BACKGROUND_GRACE_SECONDS = 5.0


def event_destinations(settings: Settings) -> tuple[str, ...]:
    """Where entity events go: an outbox row per destination and event."""
    destinations = []
    if settings.amqp_url:
        destinations.append("rabbitmq")
    if settings.pusher_enabled:
        destinations.append("pusher")
    return tuple(destinations)


async def open_runtime(settings: Settings, *, relay_process: bool = False) -> Runtime:
    """Connect everything and start event delivery in the background (never blocking start-up).
    The app checks the database first (one ConfigError line when it cannot be reached); the
    relay runs in-app unless RELAY_IN_APP=false, and always in a relay process."""
    engine = make_engine(settings.database_url) if relay_process else await open_database(settings)
    if settings.generated_secrets:
        log.warning(
            "%s unset: using the random values kept in var/ (development only)",
            " and ".join(settings.generated_secrets),
            extra={"event": "generated_secrets"},
        )
    commit_signal = CommitSignal()
    cache = SessionCache(settings.session_cache_seconds)
    info = {
        **session_info(event_destinations(settings), commit_signal),
        **invalidation.session_info(cache),
    }
    rt = Runtime(
        settings=settings,
        engine=engine,
        db=make_session_factory(engine, info=info),
        http=httpx.AsyncClient(
            timeout=httpx.Timeout(settings.provider_timeout),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
        ),
        limiter=CredentialLimiter(settings),
        session_cache=cache,
    )
    rt.outbox_metrics = partial(outbox_metrics, rt.db)
    if settings.database_read_url and not relay_process:
        rt.replica = Replica(make_engine(settings.database_read_url))
    if settings.redis_url and not relay_process:
        rt.session_bus = _session_bus(settings.redis_url, cache)
    poll = STANDALONE_POLL_SECONDS if relay_process else IN_APP_POLL_SECONDS
    # In an API process the relay keeps to a pace while requests are served; a relay process
    # has the event loop to itself.
    pace = None
    if settings.relay_busy_rate > 0 and not relay_process:
        pace = Pace(settings.relay_busy_rate, rt.activity.busy)
    rt.relay = relay = OutboxRelay(engine, _destinations(rt), poll_interval=poll, pace=pace)
    commit_signal.listeners.append(relay.kick)
    for destination in relay.destinations.values():
        destination.start(on_ready=relay.kick)
    if settings.relay_in_app or relay_process:
        relay.start()
    # In API and relay processes alike: the lease lets one instance at a time run it.
    rt.housekeeper = Housekeeper(engine, settings)
    rt.housekeeper.start()
    if multiprocess_dir() is not None and not relay_process:
        rt.pool_sampler = asyncio.create_task(sample_pool_every(engine), name="pool-metrics")
    return rt


def _session_bus(url: str, cache: SessionCache) -> RevocationBus:
    """Revocations to and from the other instances, listening in the background."""
    from quart_template.sessions.bus import RevocationBus

    bus = RevocationBus(url, cache)
    bus.start()
    return bus


def _destinations(rt: Runtime) -> list[Destination]:
    """One destination per configured target: email always, RabbitMQ and Pusher when set."""
    destinations: list[Destination] = [SenderDestination(EMAIL, build_email_sender(rt.settings))]
    if rt.settings.amqp_url:
        from quart_template.events.rabbitmq import RabbitPublisher

        publisher = RabbitPublisher(rt.settings.amqp_url, rt.settings.mq_exchange)
        rt.broker_status = publisher.status
        destinations.append(publisher)
    if rt.settings.pusher_enabled:
        from quart_template.events.pusher import PusherDestination

        pusher = PusherDestination(rt.settings, rt.http)
        rt.pusher = pusher.client
        destinations.append(pusher)
    return destinations


async def close_runtime(rt: Runtime) -> None:
    """Stop the relay cleanly (undelivered rows stay in the outbox), then close every
    connection: destinations, rate-limit store, HTTP client, engine; in multiprocess mode this
    process's live gauges go (its counters stay in the totals)."""
    if rt.housekeeper is not None:
        await rt.housekeeper.stop()  # between batches: no delete is cut off mid-transaction
    if rt.background:
        await asyncio.wait(rt.background, timeout=BACKGROUND_GRACE_SECONDS)
    if rt.relay is not None:
        await rt.relay.stop()
        for destination in rt.relay.destinations.values():
            await destination.aclose()
    if rt.session_bus is not None:
        await rt.session_bus.aclose()
    await rt.limiter.aclose()
    await rt.http.aclose()
    if rt.replica is not None:
        await rt.replica.engine.dispose()
    await rt.engine.dispose()
    if rt.pool_sampler is not None:
        rt.pool_sampler.cancel()
        await asyncio.gather(rt.pool_sampler, return_exceptions=True)
    process_ends()


@asynccontextmanager
async def running(settings: Settings, *, relay_process: bool = False) -> AsyncIterator[Runtime]:
    """`open_runtime` ... `close_runtime`, for scripts and tests that need no HTTP app."""
    rt = await open_runtime(settings, relay_process=relay_process)
    try:
        yield rt
    finally:
        await close_runtime(rt)


async def run_relay(settings: Settings) -> None:
    """`quart-template relay`: deliver the outbox until SIGTERM/SIGINT; pending rows stay for
    the next run."""
    configure_logging(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings, relay_process=True):
        log.info("relay started", extra={"event": "relay_started"})
        await stop.wait()
