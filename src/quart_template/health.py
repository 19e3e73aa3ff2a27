"""Liveness, readiness, outbox metrics and the welcome line Flask Template answered with."""

from __future__ import annotations

import asyncio
import hmac

from quart import Blueprint, Response
from quart_schema import hide

from quart_template.db import ping
from quart_template.errors import error_response
from quart_template.openapi import no_database, plain_answer
from quart_template.runtime import Runtime, runtime
from quart_template.web import bearer_credential, reply

blueprint = Blueprint("health", __name__)

WELCOME = "Welcome to Quart Template."
METRICS_TOKEN_REQUIRED = "A valid metrics token is required."


@blueprint.get("/")
@no_database
@plain_answer(media_type="text/plain", description=WELCOME)
async def index() -> Response:
    """The greeting, as plain text."""
    return Response(WELCOME, content_type="text/plain; charset=utf-8")


@blueprint.get("/healthz")
@hide
async def healthz() -> Response:
    """The process is alive; says nothing about dependencies."""
    return reply({"status": "ok"})


@blueprint.get("/readyz")
@hide
async def readyz() -> Response:
    """Ready when the database answers and the process is not shutting down; a configured
    broker that is down degrades, not fails."""
    rt = runtime()
    database = "ok" if await _database_answers(rt) else "down"
    broker = await rt.broker_status() if rt.broker_status else "off"
    healthy = database == "ok" and broker in ("ok", "off") and not rt.draining
    body = {"status": "ok" if healthy else "degraded", "database": database, "broker": broker}
    return reply(body, 200 if database == "ok" and not rt.draining else 503)


@blueprint.get("/metrics")
@hide
async def metrics() -> Response:
    """The outbox backlog (pending rows and the oldest one's age, per destination) as JSON;
    behind METRICS_TOKEN when one is set."""
    rt = runtime()
    if not _may_read_metrics(rt.settings.metrics_token, bearer_credential()):
        return error_response(401, METRICS_TOKEN_REQUIRED)
    read = rt.outbox_metrics
    try:
        outbox = await asyncio.wait_for(read(), timeout=3) if read is not None else None
    except Exception:
        return error_response(503, "The database is down: no outbox metrics.")
    return reply({"outbox": outbox})


def _may_read_metrics(expected: str | None, presented: str | None) -> bool:
    """Open without a METRICS_TOKEN; else the presented token must match (in constant time)."""
    if not expected:
        return True
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


async def _database_answers(rt: Runtime) -> bool:
    try:
        await asyncio.wait_for(ping(rt.engine), timeout=3)
    except Exception:
        return False
    return True
