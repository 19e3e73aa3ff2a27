"""Serving the app with Hypercorn, in one process or several (`serve --workers N`), with the
same graceful shutdown either way: on SIGTERM or SIGINT `/readyz` fails at once, the listener
stays open for SHUTDOWN_DELAY (a load balancer sees the failing check and stops sending), then
closes, and in-flight requests get GRACEFUL_TIMEOUT to finish.

With several workers this module is the supervisor, not Hypercorn's: Hypercorn's terminates
every remaining worker as soon as the first one has exited, dropping their in-flight requests;
this one forwards the signal to each worker and waits for all of them."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from quart_template.settings import Settings, load_settings

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)
KILL_MARGIN_SECONDS = 10.0  # beyond delay + graceful timeout, a worker that is still up is stuck


def begin_shutdown(app: Any, shutdown: asyncio.Event, delay: float = 0.0) -> None:
    """SIGTERM: readiness fails at once; after `delay` (SHUTDOWN_DELAY) Hypercorn stops
    accepting and lets in-flight requests finish. A second signal stops accepting at once."""
    rt = app.extensions.get("runtime")
    draining_already = rt is not None and rt.draining
    if rt is not None:
        rt.draining = True
    if delay > 0 and not draining_already:
        log.info(
            "shutting down in %g s (readiness is failing meanwhile)",
            delay,
            extra={"event": "shutdown_delay"},
        )
        asyncio.get_running_loop().call_later(delay, shutdown.set)
    else:
        shutdown.set()


def serve_in_process(settings: Settings, config: Config, sockets: Sockets | None = None) -> None:
    """The app in this process until SIGTERM/SIGINT (on uvloop when installed)."""
    from quart_template.app import create_app

    app = create_app(settings)

    async def main() -> None:
        shutdown = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, begin_shutdown, app, shutdown, settings.shutdown_delay)
        wrapped = wrap_app(app, config.wsgi_max_body_size, None)
        await worker_serve(wrapped, config, sockets=sockets, shutdown_trigger=shutdown.wait)

    _run(main)


def run_workers(settings: Settings, config: Config, workers: int) -> int:
    """`workers` processes on one listening socket; returns 0 when every worker stopped cleanly
    after a signal, else the first failure's exit code (the others are shut down gracefully)."""
    sockets = config.create_sockets()
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(config, sockets), name=f"worker-{n}")
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    stopping: list[float] = []  # when shutdown began (empty: still serving)

    def stop(*_: object) -> None:
        if not stopping:
            stopping.append(time.monotonic())
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    for sig in SIGNALS:
        signal.signal(sig, stop)
    exitcode = 0
    try:
        exitcode = _supervise(processes, stopping, stop, settings)
    finally:
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()
    return exitcode


def _supervise(
    processes: Sequence[BaseProcess],
    stopping: list[float],
    stop: Callable[[], None],
    settings: Settings,
) -> int:
    """Wait for the workers; one that exits on its own stops the rest; stuck ones are killed."""
    exitcode = 0
    bound = settings.shutdown_delay + settings.graceful_timeout + KILL_MARGIN_SECONDS
    while live := [p for p in processes if p.exitcode is None]:
        timeout = max(0.0, stopping[0] + bound - time.monotonic()) if stopping else None
        if not wait([p.sentinel for p in live], timeout=timeout):
            for process in live:
                log.error("worker %s did not stop in time; killed", process.name)
                process.kill()
            exitcode = exitcode or 1
            continue
        for process in live:
            if process.exitcode is not None and (process.exitcode != 0 or not stopping):
                log.error(
                    "worker %s exited with %s; stopping the others",
                    process.name,
                    process.exitcode,
                    extra={"event": "worker_exited"},
                )
                exitcode = exitcode or process.exitcode or 1
                stop()
    for process in processes:
        process.join()
    return exitcode


def _worker(config: Config, sockets: Sockets) -> None:
    """One worker process: its own settings, logging and app, on the supervisor's sockets."""
    from quart_template.logs import configure_logging

    for sig in SIGNALS:  # until the loop installs its own handlers: a signal must not kill it
        signal.signal(sig, signal.SIG_IGN)
    settings = load_settings()
    configure_logging(settings)
    serve_in_process(settings, config, sockets)


def _run(main: Callable[[], Awaitable[None]]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())  # type: ignore[arg-type]
    else:
        uvloop.run(main())  # type: ignore[arg-type]
