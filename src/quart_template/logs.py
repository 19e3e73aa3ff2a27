"""Structured logging: JSON lines in production, readable lines in development."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from quart_template.settings import Settings

# Not fields: the record's own attributes, and Uvicorn's copy of its message in ANSI colours.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable, still showing the structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = {
            k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        }
        if fields:
            base += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return base


def configure_logging(settings: Settings) -> None:
    """Install one handler on the root logger (idempotent)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    if settings.json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._quart_template = True  # type: ignore[attr-defined]
    root.handlers = [h for h in root.handlers if not getattr(h, "_quart_template", False)]
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # httpx logs every request URL at INFO; provider URLs carry tokens (Facebook's debug_token).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # One line per Alembic plugin at every start-up says nothing an operator needs.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
