"""`quart-template serve | migrate | relay | housekeeping | import-legacy`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
    serve = commands.add_parser("serve", help="serve the API (Hypercorn, or Uvicorn)")
    serve.add_argument(
        "--host", default=None, help="default: $HOST, else 127.0.0.1 (0.0.0.0 in production)"
    )
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 5000")
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--server",
        default=None,
        help="hypercorn or uvicorn (the uvicorn extra); default: $ASGI_SERVER or hypercorn",
    )
    commands.add_parser("migrate", help="upgrade the database to the latest revision")
    commands.add_parser("relay", help="deliver outbox events without serving the API")
    housekeeping = commands.add_parser(
        "housekeeping", help="delete now what is past its retention (one run, under the lease)"
    )
    housekeeping.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
    )
    legacy = commands.add_parser(
        "import-legacy", help="import a Flask Template database (people, logins, MFA)"
    )
    legacy.add_argument(
        "--from",
        dest="from_url",
        required=True,
        metavar="URL",
        help="SQLAlchemy URL of the old database, e.g. mysql://user:pass@host/flask_template",
    )
    legacy.add_argument(
        "--dry-run", action="store_true", help="read everything and report; write nothing"
    )
    legacy.add_argument(
        "--emit-events",
        action="store_true",
        help="record a create event per imported row (default: none; never any email)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "serve":
            return serve_api(
                settings, host=args.host, port=args.port, workers=args.workers, server=args.server
            )
        if args.command == "migrate":
            from quart_template.migrations import head_revision, migrate

            migrate(settings)
            print(f"{describe_database(settings)}: at revision {head_revision()}")
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
        if args.command == "import-legacy":
            return import_legacy(settings, args.from_url, args.dry_run, args.emit_events)
    except ConfigError as exc:
        print(f"quart-template: configuration error: {exc}", file=sys.stderr)
        return 2
    return 1


def import_legacy(settings: Settings, from_url: str, dry_run: bool, emit_events: bool) -> int:
    """Run the import; 0 when it ran to the end (rows it skipped are in the report), 1 when
    the old database could not be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from quart_template.legacy.command import run_import

    try:
        asyncio.run(
            run_import(settings, from_url=from_url, dry_run=dry_run, emit_events=emit_events)
        )
    except (SQLAlchemyError, ValueError, OSError) as exc:
        print(f"quart-template import-legacy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def describe_database(settings: Settings) -> str:
    """The database URL without its password, for the one line an operator reads first."""
    from sqlalchemy.engine import make_url

    return "database " + make_url(settings.database_url).render_as_string(hide_password=True)


def describe_backends(settings: Settings) -> str:
    """Which database, broker(s), email backend and Redis this process uses (no passwords)."""
    from quart_template.brokers import redacted_brokers
    from quart_template.redis_topology import RedisTopology

    broker = redacted_brokers(settings.amqp_url) if settings.amqp_url else "off"
    redis = RedisTopology.parse(settings.redis_url).redacted() if settings.redis_url else "off"
    return (
        f"{describe_database(settings)}, broker {broker}, "
        f"email {settings.email_backend}, redis {redis}"
    )


def serve_api(
    settings: Settings,
    *,
    host: str | None,
    port: int | None,
    workers: int,
    server: str | None = None,
) -> int:
    """The ASGI server (`server`, else ASGI_SERVER), programmatically, in one process or
    `workers`; SIGTERM and SIGINT shut down gracefully either way (see `serving`)."""
    from quart_template.logs import configure_logging
    from quart_template.serving import asgi_server, run_workers, serve_in_process

    chosen = asgi_server(
        server or settings.asgi_server,
        settings,
        variable="--server" if server else "ASGI_SERVER",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
    )
    configure_logging(settings)
    warn_of_slow_revocation(settings, workers)
    asyncio.run(check_database(settings))
    log.info("%s, server %s", describe_backends(settings), chosen.name, extra={"event": "backends"})
    with shared_metrics_dir(workers):
        if workers > 1:
            return run_workers(settings, chosen)
        serve_in_process(settings, chosen)
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
