"""`quart-template relay`: deliver the outbox from its own process."""

from __future__ import annotations

import asyncio
import logging
import signal

import httpx

from quart_template.db import CommitSignal, make_engine, make_session_factory
from quart_template.events.service import start_events, stop_events
from quart_template.logs import configure_logging
from quart_template.runtime import Runtime
from quart_template.settings import Settings

log = logging.getLogger(__name__)


async def run_relay(settings: Settings) -> None:
    """Run the relay until SIGTERM/SIGINT; pending rows stay for the next run."""
    from quart_template.app import event_destinations

    configure_logging(settings)
    engine = make_engine(settings.database_url)
    rt = Runtime(
        settings=settings,
        engine=engine,
        db=make_session_factory(
            engine, destinations=event_destinations(settings), signal=CommitSignal()
        ),
        http=httpx.AsyncClient(timeout=settings.provider_timeout),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await start_events(rt, force_relay=True)
    log.info("relay started", extra={"event": "relay_started"})
    try:
        await stop.wait()
    finally:
        await stop_events(rt)
        await rt.http.aclose()
        await engine.dispose()
