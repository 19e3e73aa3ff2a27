"""`quart-template serve | migrate | relay | housekeeping`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from quart_template import __version__
from quart_template.settings import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

# prometheus-client's multiprocess directory (quart_template.metrics). Named here rather than
# imported: it must be in the environment before prometheus-client is first imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="quart-template", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API with Hypercorn")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server listens
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 5000")
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="upgrade the database to the latest revision")
    commands.add_parser("relay", help="deliver outbox events without serving the API")
    housekeeping = commands.add_parser(
        "housekeeping", help="delete now what is past its retention (one run, under the lease)"
    )
    housekeeping.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "serve":
            return serve_api(settings, host=args.host, port=args.port, workers=args.workers)
        if args.command == "migrate":
            from quart_template.migrations import migrate

            migrate(settings)
            return 0
        if args.command == "relay":
            from quart_template.lifecycle import run_relay

            if _has_uvloop():
                import uvloop

                uvloop.run(run_relay(settings))
            else:
                asyncio.run(run_relay(settings))
            return 0
        if args.command == "housekeeping":
            from quart_template.housekeeping.command import run_housekeeping

            return asyncio.run(run_housekeeping(settings, dry_run=args.dry_run))
    except ConfigError as exc:
        print(f"quart-template: configuration error: {exc}", file=sys.stderr)
        return 2
    return 1


def serve_api(settings: Settings, *, host: str, port: int | None, workers: int) -> int:
    """Hypercorn, programmatically; SIGTERM and SIGINT shut down gracefully. With several
    workers the app is imported by each (and not here, so PROMETHEUS_MULTIPROC_DIR can still
    be set before prometheus-client loads)."""
    from hypercorn.config import Config

    from quart_template.logs import configure_logging

    configure_logging(settings)
    warn_of_slow_revocation(settings, workers)
    config = Config()
    config.bind = [f"{host}:{port or settings.port}"]
    config.workers = workers
    config.accesslog = None
    # Hypercorn's own logger would add a second handler; ours (on the root) formats every line once.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = settings.graceful_timeout
    config.keep_alive_timeout = 75
    asyncio.run(check_database(settings))
    if workers > 1:
        from hypercorn.run import run

        config.application_path = "quart_template.asgi:app"
        config.worker_class = "uvloop" if _has_uvloop() else "asyncio"
        with shared_metrics_dir(workers):
            return run(config)
    from quart_template.app import create_app

    with shared_metrics_dir(workers):
        return _serve_one(create_app(settings), config)


def _serve_one(app: Any, config: Any) -> int:
    """One process, the app in it: SIGTERM and SIGINT begin a graceful shutdown."""
    from hypercorn.asyncio import serve

    shutdown = asyncio.Event()

    async def run_one() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, begin_shutdown, app, shutdown)
        await serve(app, config, shutdown_trigger=shutdown.wait)

    if _has_uvloop():
        import uvloop

        uvloop.run(run_one())
    else:
        asyncio.run(run_one())
    return 0


@contextlib.contextmanager
def shared_metrics_dir(workers: int) -> Iterator[str | None]:
    """Where the workers' metrics add up: PROMETHEUS_MULTIPROC_DIR when set (emptied of the
    last run's files first, as prometheus-client asks), else with several workers a temporary
    directory made for this run and removed at exit (one process keeps them in memory: None).
    Set before any worker starts, so every one inherits it."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink(missing_ok=True)
        yield given
        return
    if workers <= 1:
        yield None
        return
    made = tempfile.mkdtemp(prefix="quart-template-metrics-")
    os.environ[MULTIPROC_ENV] = made
    log.info(
        "%d workers: their metrics add up in %s (removed at exit)",
        workers,
        made,
        extra={"event": "metrics_dir", "path": made},
    )
    try:
        yield made
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(made, ignore_errors=True)


def begin_shutdown(app: Any, shutdown: asyncio.Event) -> None:
    """SIGTERM: readiness fails at once (a load balancer stops sending), then Hypercorn stops
    accepting and lets in-flight requests finish within GRACEFUL_TIMEOUT."""
    rt = app.extensions.get("runtime")
    if rt is not None:
        rt.draining = True
    shutdown.set()


def warn_of_slow_revocation(settings: Settings, workers: int) -> None:
    """Workers share no memory: without Redis, the others learn of a revocation only when
    their cached entries expire. Said once, at start-up."""
    if workers > 1 and not settings.redis_url and settings.session_cache_seconds > 0:
        log.warning(
            "%d workers without REDIS_URL: a revoked token may still be accepted by the "
            "other workers for up to SESSION_CACHE_SECONDS (%g s)",
            workers,
            settings.session_cache_seconds,
            extra={"event": "slow_revocation"},
        )


async def check_database(settings: Settings) -> None:
    """Fail start-up with one line when the database cannot be reached; bring an embedded
    one to the latest revision once, before any worker starts."""
    from quart_template.migrations import open_database

    engine = await open_database(settings, ping_seconds=10)
    await engine.dispose()


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
