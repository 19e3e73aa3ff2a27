"""Liveness, readiness, metrics (Prometheus text, and the outbox backlog as JSON) and the
welcome line Flask Template answered with."""

from __future__ import annotations

import asyncio
import hmac

from quart import Blueprint, Response
from quart_schema import hide

from quart_template.db import ping
from quart_template.errors import error_response
from quart_template.metrics.exposition import scrape
from quart_template.migrations import RUN_MIGRATE, schema_problem
from quart_template.openapi import no_database, plain_answer
from quart_template.runtime import Runtime, runtime
from quart_template.web import bearer_credential, reply

blueprint = Blueprint("health", __name__)

WELCOME = "Welcome to Quart Template."
METRICS_TOKEN_REQUIRED = "A valid metrics token is required."
# The text format every Prometheus version (and other scrapers) reads.
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


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
    unmigrated = await _schema_problem(rt) if database == "ok" else None
    broker = await rt.broker_status() if rt.broker_status else "off"
    usable = database == "ok" and not unmigrated and not rt.draining
    healthy = usable and broker in ("ok", "off")
    body = {"status": "ok" if healthy else "degraded", "database": database, "broker": broker}
    if unmigrated:
        body["schema"] = f"{unmigrated}: {RUN_MIGRATE}"
    return reply(body, 200 if usable else 503)


@blueprint.get("/metrics")
@hide
async def metrics() -> Response:
    """Prometheus text exposition (see `metrics`); answered even when the database is down
    (`quart_template_database_up 0`, no backlog gauges). Behind METRICS_TOKEN when one is set."""
    rt = runtime()
    if not _may_read_metrics(rt.settings.metrics_token, bearer_credential()):
        return error_response(401, METRICS_TOKEN_REQUIRED)
    destinations = rt.relay.destinations if rt.relay is not None else {}
    body = await scrape(pool=rt.engine.pool, backlog=rt.outbox_metrics, destinations=destinations)
    return Response(body, content_type=PROMETHEUS_TEXT)


@blueprint.get("/metrics.json")
@hide
async def metrics_json() -> Response:
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


async def _schema_problem(rt: Runtime) -> str | None:
    """What keeps the schema from being usable (someone restored an old dump, or emptied the
    database, after start-up), or None; a failed check is the database's, reported above."""
    try:
        return await asyncio.wait_for(schema_problem(rt.engine), timeout=3)
    except Exception:
        return None


async def _database_answers(rt: Runtime) -> bool:
    try:
        await asyncio.wait_for(ping(rt.engine), timeout=3)
    except Exception:
        return False
    return True
