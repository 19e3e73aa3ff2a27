"""What the app's engine sends to the database while a test looks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from quart_template.runtime import Runtime


@contextmanager
def executed(rt: Runtime) -> Iterator[list[tuple[str, Any]]]:
    """Each statement the app's engine runs inside the block, as sent, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = rt.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
