"""How social sign-ins share the database: a transaction that lost a race (unique key, stale
version, MySQL deadlock) may simply run again."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

# MySQL: deadlock found / lock wait timeout: the transaction is safe to run again.
RETRYABLE_MYSQL_CODES = frozenset({1205, 1213})


def retryable(exc: Exception) -> bool:
    """A lost race worth another attempt; other database errors are real failures."""
    if isinstance(exc, OperationalError):
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        return code in RETRYABLE_MYSQL_CODES
    return True
