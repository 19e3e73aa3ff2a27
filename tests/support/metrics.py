"""Reading `/metrics` as a scraper does: the Prometheus text parsed into samples."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from quart.typing import TestClientProtocol as Client

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(client: Client, **request: Any) -> Samples:
    """GET /metrics (which must answer 200 in the Prometheus text format), parsed."""
    response = await client.get("/metrics", **request)
    text = await response.get_data(as_text=True)
    assert response.status_code == 200, text
    assert response.mimetype == "text/plain"
    return parse(text)


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """One sample's value, or None when the exposition does not have it."""
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}
