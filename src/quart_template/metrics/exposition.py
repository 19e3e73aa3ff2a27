"""A scrape: the recorded metrics (this process's, or every worker's files in multiprocess mode)
plus what is read at scrape time: the outbox backlog per destination and whether the database
answered. A database that is down or slow does not fail the scrape: the backlog gauges are
left out and `quart_template_database_up` says 0."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from quart_template.metrics import REGISTRY, multiprocess_dir, sample_pool

BACKLOG_TIMEOUT_SECONDS = 3.0

Backlog = Callable[[], Awaitable[dict[str, Any]]]


async def scrape(*, pool: Any, backlog: Backlog | None, destinations: Iterable[str] = ()) -> bytes:
    """The text exposition of one scrape (file reads and formatting run off the loop)."""
    sample_pool(pool)
    families = backlog_families(await read_backlog(backlog), destinations)
    return await asyncio.to_thread(_render, families)


async def read_backlog(backlog: Backlog | None) -> dict[str, Any] | None:
    """The outbox numbers, or None when the database did not answer in time."""
    if backlog is None:
        return None
    try:
        return await asyncio.wait_for(backlog(), timeout=BACKLOG_TIMEOUT_SECONDS)
    except Exception:
        return None


def backlog_families(backlog: dict[str, Any] | None, destinations: Iterable[str]) -> list[Metric]:
    """`database_up`, and per destination (every configured one, 0 when nothing waits) the
    pending and dead rows and the oldest pending row's age; only `database_up` without it."""
    up = GaugeMetricFamily(
        "quart_template_database_up",
        "1 when the database answered this scrape's outbox query in time, else 0.",
        value=0 if backlog is None else 1,
    )
    if backlog is None:
        return [up]
    pending = _family("outbox_pending", "Outbox events waiting for delivery.")
    dead = _family("outbox_dead", "Outbox events refused for good (waiting for an operator).")
    age = _family(
        "outbox_oldest_pending_age_seconds", "Age of the oldest waiting event (0: none waits)."
    )
    found: dict[str, dict[str, Any]] = backlog.get("destinations", {})
    for name in sorted(set(destinations) | set(found)):
        entry = found.get(name, {})
        pending.add_metric([name], entry.get("pending", 0))
        dead.add_metric([name], entry.get("dead", 0))
        age.add_metric([name], entry.get("oldest_pending_age_seconds") or 0)
    return [up, pending, dead, age]


def _family(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"quart_template_{name}", documentation, labels=["destination"])


class _Families:
    """A collector over other collectors and families read beforehand."""

    def __init__(self, sources: list[Collector], families: list[Metric]) -> None:
        self._sources = sources
        self._families = families

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            yield from source.collect()
        yield from self._families


def _render(families: list[Metric]) -> bytes:
    """Every worker's files in multiprocess mode (prometheus-client's collector, in a registry
    of its own per scrape, as its documentation asks); this process's registry otherwise."""
    path = multiprocess_dir()
    source: Collector = REGISTRY
    if path is not None:
        source = MultiProcessCollector(None, path)  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([source], families))
    return generate_latest(registry)
