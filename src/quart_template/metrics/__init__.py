"""The Prometheus metrics every process records (requests, logins, rate-limit refusals, relay
deliveries, the database pool), cheap to record on the hot path.

With PROMETHEUS_MULTIPROC_DIR set (`serve --workers N` sets one itself), prometheus-client
writes every value to a file per process in that directory and a scrape adds them up
(`exposition`), so counters are totals over all workers, whichever one answers. The variable
must be set before this module is first imported; `serve` does it before any worker starts.

Label values are bounded: a route is its URL rule (`/sessions/<session_id>`), never the path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.multiprocess import mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Read once, as prometheus-client does when it is imported: where the values go is fixed then.
_MULTIPROC_DIR = os.environ.get(MULTIPROC_ENV) or None
UNMATCHED = "<unmatched>"  # the route label of a path no rule matches (404, 405)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
POOL_SAMPLE_SECONDS = 5.0
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOGIN_OUTCOMES = ("succeeded", "failed", "second_factor_required")

# No `_created` series: multiprocess mode has none, so one process answers like several.
disable_created_metrics()  # type: ignore[no-untyped-call]

# This process's metrics, exposed as they are when no multiprocess directory is set.
REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter(
    "quart_template_http_requests_total",
    "Requests answered, by route (URL rule), method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "quart_template_http_request_duration_seconds",
    "Time from the request's first hook to its answer, by route (URL rule) and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
LOGINS = Counter(
    "quart_template_logins_total",
    "Sign-in steps by outcome: succeeded (a session issued), failed (a wrong password or "
    "second factor), second_factor_required (the first factor passed for an MFA person).",
    ["outcome"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "quart_template_rate_limit_refusals_total",
    "Requests refused with 429 by a rate limit, by scope (login, mfa, forgot_password, ...).",
    ["scope"],
    registry=REGISTRY,
)
OUTBOX_DELIVERED = Counter(
    "quart_template_outbox_deliveries_total",
    "Outbox events their destination confirmed, by destination.",
    ["destination"],
    registry=REGISTRY,
)
OUTBOX_FAILED = Counter(
    "quart_template_outbox_delivery_failures_total",
    "Outbox deliveries that failed, by destination and kind (retry: tried again later; "
    "dead: refused for good).",
    ["destination", "kind"],
    registry=REGISTRY,
)
# Each worker has its own pool: the live workers' numbers add up.
POOL_IN_USE = Gauge(
    "quart_template_database_pool_connections_in_use",
    "Database connections checked out of the pool (summed over live workers).",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
POOL_SIZE = Gauge(
    "quart_template_database_pool_size",
    "The pool's configured size, overflow not included (summed over live workers).",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)

for _outcome in LOGIN_OUTCOMES:  # known label values start at 0 rather than being absent
    LOGINS.labels(_outcome)

_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def multiprocess_dir() -> str | None:
    """The shared directory of multiprocess mode, or None (one process, values in memory)."""
    return _MULTIPROC_DIR


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answer and its latency (the labelled children are looked up once)."""
    key = (route, method if method in METHODS else "other", status)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (
            HTTP_REQUESTS.labels(key[0], key[1], str(status)),
            HTTP_DURATION.labels(key[0], key[1]),
        )
    children[0].inc()
    children[1].observe(seconds)


def known_destinations(names: Iterable[str]) -> None:
    """Each outbox destination's counters start at 0 rather than being absent."""
    for name in names:
        OUTBOX_DELIVERED.labels(name)
        for kind in ("retry", "dead"):
            OUTBOX_FAILED.labels(name, kind)


def count_deliveries(destination: str, *, sent: int, retried: int, dead: int) -> None:
    """One batch's answers from its destination."""
    if sent:
        OUTBOX_DELIVERED.labels(destination).inc(sent)
    if retried:
        OUTBOX_FAILED.labels(destination, "retry").inc(retried)
    if dead:
        OUTBOX_FAILED.labels(destination, "dead").inc(dead)


def sample_pool(pool: Any) -> None:
    """Set the pool gauges from a SQLAlchemy pool (a pool without a size, e.g. SQLite's
    in-memory StaticPool, is left out)."""
    checkedout, size = getattr(pool, "checkedout", None), getattr(pool, "size", None)
    if callable(checkedout) and callable(size):
        POOL_IN_USE.set(checkedout())
        POOL_SIZE.set(size())


async def sample_pool_every(engine: Any, seconds: float = POOL_SAMPLE_SECONDS) -> None:
    """In multiprocess mode every worker publishes its pool numbers, so a scrape answered by
    one of them sees the others' too (at most `seconds` old)."""
    while True:
        sample_pool(engine.pool)
        await asyncio.sleep(seconds)


def process_ends() -> None:
    """At shutdown in multiprocess mode: drop this process's live gauges (the pool), keep its
    counters (they stay part of the totals)."""
    path = multiprocess_dir()
    if path is not None:
        with contextlib.suppress(OSError):
            mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]
