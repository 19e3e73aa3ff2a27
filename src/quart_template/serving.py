"""Serving the app with an ASGI server (Hypercorn by default, Uvicorn with `--server uvicorn`),
in one process or several (`serve --workers N`), with the same graceful shutdown either way: on
SIGTERM or SIGINT `/readyz` fails at once, the listener stays open for SHUTDOWN_DELAY (a load
balancer sees the failing check and stops sending), then closes, and in-flight requests get
GRACEFUL_TIMEOUT to finish.

With several workers this module is the supervisor, not the server's own: Hypercorn's terminates
every remaining worker as soon as the first one has exited, dropping their in-flight requests;
this one forwards the signal to each worker and waits for all of them."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, ClassVar, get_args

from quart_template.settings import AsgiServerName, ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from quart import Quart

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)
KILL_MARGIN_SECONDS = 10.0  # beyond delay + graceful timeout, a worker that is still up is stuck
SERVERS: tuple[str, ...] = get_args(AsgiServerName)  # `serve --server NAME`, ASGI_SERVER
KEEP_ALIVE_SECONDS = 75  # longer than the idle timeout of common load balancers (60 s)


@dataclass(frozen=True)
class AsgiServer(ABC):
    """An ASGI server `serve` runs (`serving_hypercorn`, `serving_uvicorn`): where and how to
    listen, pickled into every worker process, each of which builds the server's config."""

    name: ClassVar[str]
    host: str
    port: int
    workers: int
    graceful_timeout: float

    @abstractmethod
    def bind(self) -> list[socket.socket]:
        """The listening sockets, bound by the supervisor before its workers share them."""

    @abstractmethod
    async def serve(
        self, app: Quart, sockets: list[socket.socket] | None, shutdown: asyncio.Event
    ) -> None:
        """Serve `app` (on `sockets`, or on sockets of its own) until `shutdown` is set, then
        stop accepting and give in-flight requests `graceful_timeout` seconds to finish."""


def asgi_server(
    name: str, settings: Settings, *, variable: str, host: str, port: int, workers: int
) -> AsgiServer:
    """The server called `name` (by `variable`: `--server` or ASGI_SERVER); an unknown one, or
    one whose extra is not installed, is a ConfigError, said in one line before anything starts."""
    server_class: type[AsgiServer]
    if name == "hypercorn":
        from quart_template.serving_hypercorn import HypercornServer

        server_class = HypercornServer
    elif name == "uvicorn":
        try:
            from quart_template.serving_uvicorn import UvicornServer
        except ImportError as exc:
            raise ConfigError(
                variable,
                f"uvicorn needs the uvicorn extra ({exc.name} is not installed): "
                "pip install 'quart-template[uvicorn]'",
            ) from None
        server_class = UvicornServer
    else:
        raise ConfigError(variable, f"unknown server {name!r}; choose {' or '.join(SERVERS)}")
    return server_class(
        host=host, port=port, workers=workers, graceful_timeout=settings.graceful_timeout
    )


def begin_shutdown(app: Any, shutdown: asyncio.Event, delay: float = 0.0) -> None:
    """SIGTERM: readiness fails at once; after `delay` (SHUTDOWN_DELAY) the server stops
    accepting and lets in-flight requests finish. A second signal stops accepting at once, and
    so does a first one while the app is still starting: nobody has seen it ready, and a
    runtime made after the signal would not know to fail its readiness."""
    rt = app.extensions.get("runtime")
    if rt is None:
        _stop_accepting(shutdown)
        return
    draining_already = rt.draining
    rt.draining = True
    if delay > 0 and not draining_already:
        log.info(
            "shutting down in %g s (readiness is failing meanwhile)",
            delay,
            extra={"event": "shutdown_delay"},
        )
        asyncio.get_running_loop().call_later(delay, _stop_accepting, shutdown)
    else:
        _stop_accepting(shutdown)


def _stop_accepting(shutdown: asyncio.Event) -> None:
    """The server closes its listener; said once, so an operator (or a test) sees the moment
    from which only the requests already in flight are answered."""
    if not shutdown.is_set():
        log.info("closing the listener; requests in flight may finish", extra={"event": "closing"})
        shutdown.set()


def serve_in_process(
    settings: Settings,
    server: AsgiServer,
    sockets: list[socket.socket] | None = None,
    early_signals: Sequence[int] = (),
) -> None:
    """The app in this process until SIGTERM/SIGINT (on uvloop when installed); the signals
    are ours, not the server's, so shutdown goes the same way under either server. Signals a
    worker got before its loop existed (`early_signals`) count as received now."""
    from quart_template.app import create_app

    app = create_app(settings)

    async def main() -> None:
        shutdown = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, begin_shutdown, app, shutdown, settings.shutdown_delay)
        for _ in early_signals:
            begin_shutdown(app, shutdown, settings.shutdown_delay)
        await server.serve(app, sockets, shutdown)

    _run(main)


def run_workers(settings: Settings, server: AsgiServer) -> int:
    """`server.workers` processes on one listening socket; returns 0 when every worker stopped
    cleanly after a signal, else the first failure's exit code (the others are shut down
    gracefully)."""
    sockets = server.bind()
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(server, sockets), name=f"worker-{n}")
        for n in range(server.workers)
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
        for sock in sockets:
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
        _forget_metrics_of(process)
    return exitcode


def _forget_metrics_of(process: BaseProcess) -> None:
    """A worker's live gauges (its pool) stop counting once it is gone, even after a crash
    (a worker that stops cleanly has said so itself)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and process.pid is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]


def _worker(server: AsgiServer, sockets: list[socket.socket]) -> None:
    """One worker process: its own settings, logging and app, on the supervisor's sockets."""
    from quart_template.logs import configure_logging

    early: list[int] = []  # until the loop installs its own handlers: kept, neither fatal nor lost
    for sig in SIGNALS:
        signal.signal(sig, lambda signum, _frame: early.append(signum))
    settings = load_settings()
    configure_logging(settings)
    serve_in_process(settings, server, sockets, early)


def _run(main: Callable[[], Awaitable[None]]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())  # type: ignore[arg-type]
    else:
        uvloop.run(main())  # type: ignore[arg-type]
