"""Which database errors mean "the database cannot be reached right now" (a blip, a failover, a
proxy or `wait_timeout` dropping connections, SQLite's writer lock timing out) rather than a bug.

The engine uses it to throw such connections away (so no dead one stays pooled and the service
recovers by itself), and the error handler to answer JSON 503 with `Retry-After` instead of 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

# MySQL/MariaDB client and server codes for a connection that is gone or cannot be made.
LOST_CODES = frozenset({1053, 1927, 2002, 2003, 2005, 2006, 2013, 2014, 2045, 2055, 4031})
# A closed transport used again (uvloop and asyncio say it in these words; aiomysql lets it out).
LOST_PHRASES = ("unable to perform operation on", "transport is closed", "connection is closed")
SQLITE_BUSY = ("database is locked", "database table is locked", "unable to open database")
RETRY_AFTER_SECONDS = 2


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) says the database is out of reach for now."""
    return any(_lost(part) for part in _chain(error))


def _lost(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, (sa_exc.TimeoutError, sa_exc.DisconnectionError, ConnectionError)):
        return True  # the pool is exhausted, or the socket is gone
    text = str(error).lower()
    if isinstance(error, RuntimeError):
        return any(phrase in text for phrase in LOST_PHRASES)
    module = type(error).__module__
    if module.startswith(("pymysql", "aiomysql")):
        code = error.args[0] if error.args and isinstance(error.args[0], int) else None
        return code in LOST_CODES
    if module.startswith("sqlite3") and type(error).__name__ == "OperationalError":
        return any(phrase in text for phrase in SQLITE_BUSY)
    return False


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException) and id(orig) not in seen:
            seen.add(id(orig))
            yield orig
        current = current.__cause__ or current.__context__


def watch_connections(engine: AsyncEngine) -> None:
    """Invalidate a connection that fails this way (SQLAlchemy does not know uvloop's
    RuntimeError or every proxy's reset), and let the pool's pre-ping treat it as dead and
    reconnect instead of raising it into the request."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _classify(context: ExceptionContext) -> None:
        if database_unavailable(context.original_exception):
            context.is_disconnect = True

    dialect = engine.sync_engine.dialect
    ping: Callable[[Any], bool] = dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        try:
            return ping(dbapi_connection)
        except Exception as error:
            if database_unavailable(error):
                return False  # the pool drops this connection and opens a fresh one
            raise

    dialect.do_ping = do_ping  # type: ignore[method-assign]
    _quiet_lost_resets(engine)


class _LostResetFilter(logging.Filter):
    """The pool rolls a connection back when it is returned, and logs an ERROR with a traceback
    when that fails; for a connection that is merely gone (the pool then discards it, and the
    request already answered 503 or succeeded) that is one WARNING line, not a stack trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.levelno >= logging.ERROR and error is not None and database_unavailable(error):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "pooled connection lost: %s", (type(error).__name__,)
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_lost_resets(engine: AsyncEngine) -> None:
    pool_logger = engine.sync_engine.pool.logger
    target = getattr(pool_logger, "logger", pool_logger)  # an echoing pool wraps its logger
    if isinstance(target, logging.Logger) and not any(
        isinstance(f, _LostResetFilter) for f in target.filters
    ):
        target.addFilter(_LostResetFilter())
