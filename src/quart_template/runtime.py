"""What the app holds between startup and shutdown: one engine, one HTTP client, and so on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from quart import current_app
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from quart_template.settings import Settings

if TYPE_CHECKING:
    from quart_template.events.relay import OutboxRelay


@dataclass
class Runtime:
    """Created in `before_serving`, closed in `after_serving`."""

    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    relay: OutboxRelay | None = None
    # "ok" | "down" | "off": the broker's state as the publisher last saw it.
    broker_status: Callable[[], Awaitable[str]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def runtime() -> Runtime:
    """The running app's runtime; only valid while serving (or inside `test_app()`)."""
    rt: Runtime | None = current_app.extensions.get("runtime")
    if rt is None:
        raise RuntimeError("the app is not serving: use app.test_app() or run it")
    return rt


def settings() -> Settings:
    """The app's settings (available before serving starts, too)."""
    value: Settings = current_app.extensions["settings"]
    return value
