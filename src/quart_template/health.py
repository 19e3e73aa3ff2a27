"""Liveness, readiness and the seed's welcome line."""

from __future__ import annotations

import asyncio

from quart import Blueprint, Response
from quart_schema import hide

from quart_template.db import ping
from quart_template.runtime import runtime

blueprint = Blueprint("health", __name__)

WELCOME = "Welcome to Quart Template."


@blueprint.get("/")
async def index() -> Response:
    """The seed's greeting, as plain text."""
    return Response(WELCOME, content_type="text/plain; charset=utf-8")


@blueprint.get("/healthz")
@hide
async def healthz() -> dict[str, str]:
    """The process is alive; says nothing about dependencies."""
    return {"status": "ok"}


@blueprint.get("/readyz")
@hide
async def readyz() -> tuple[dict[str, object], int]:
    """Ready when the database answers; a configured broker that is down degrades, not fails."""
    rt = runtime()
    try:
        await asyncio.wait_for(ping(rt.engine), timeout=3)
        database = "ok"
    except Exception:
        database = "down"
    broker = await rt.broker_status() if rt.broker_status else "off"
    body: dict[str, object] = {
        "status": "ok" if database == "ok" and broker in ("ok", "off") else "degraded",
        "database": database,
        "broker": broker,
    }
    metrics = rt.extras.get("outbox_metrics")
    if metrics is not None and database == "ok":
        try:  # The numbers are a bonus: failing to read them never turns a 503 into a 500.
            body["outbox"] = await asyncio.wait_for(metrics(), timeout=3)
        except Exception:
            body["outbox"] = None
    return body, 200 if database == "ok" else 503
