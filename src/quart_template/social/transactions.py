"""How social sign-ins share the database: SQLite writers queue in-process, and a transaction
that lost a race (unique key, stale version, MySQL deadlock) may simply run again."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from sqlalchemy.exc import OperationalError

from quart_template.runtime import Runtime

# MySQL: deadlock found / lock wait timeout: the transaction is safe to run again.
RETRYABLE_MYSQL_CODES = frozenset({1205, 1213})


def write_gate(rt: Runtime) -> AbstractAsyncContextManager[Any]:
    """SQLite has one writer: queue writers here, handed over at once, rather than in SQLite's
    busy handler, which polls with sleeps of up to 100 ms and leaves the lock idle meanwhile."""
    return rt.sqlite_write_lock or nullcontext()


def retryable(exc: Exception) -> bool:
    """A lost race worth another attempt; other database errors are real failures."""
    if isinstance(exc, OperationalError):
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        return code in RETRYABLE_MYSQL_CODES
    return True
