"""`/metrics` in the Prometheus text format: requests by route (the URL rule, never the path),
sign-in outcomes, rate-limit refusals, the outbox backlog and the database pool; a database
that is down still gets a scrape (`quart_template_database_up 0`). Counters are shared by every
app of the test process, so each test compares before and after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.app import create_app
from quart_template.metrics import exposition
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.accounts import log_in
from tests.support.factories import create_person
from tests.support.http import json_error
from tests.support.metrics import names, scrape, value

REQUESTS = "quart_template_http_requests_total"
LOGINS = "quart_template_logins_total"
PENDING = "quart_template_outbox_pending"
AGE = "quart_template_outbox_oldest_pending_age_seconds"
BACKLOG = {
    "quart_template_outbox_pending",
    "quart_template_outbox_dead",
    "quart_template_outbox_oldest_pending_age_seconds",
}


def requests(samples: Any, route: str, method: str = "GET", status: str = "200") -> float:
    return value(samples, REQUESTS, route=route, method=method, status=status) or 0.0


async def test_requests_are_counted_by_route_method_and_status(client: Client) -> None:
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    await json_error(await client.delete("/sessions/0123456789abcdef"), 401)
    await json_error(await client.get("/no/such/token-in-path"), 404)
    response = await client.get("/metrics")
    text = await response.get_data(as_text=True)
    after = await scrape(client)

    assert requests(after, "/healthz") - requests(before, "/healthz") == 3
    route = "/sessions/<session_id>"
    assert requests(after, route, "DELETE", "401") - requests(before, route, "DELETE", "401") == 1
    assert (
        requests(after, "<unmatched>", status="404") - requests(before, "<unmatched>", "GET", "404")
        == 1
    )
    assert "0123456789abcdef" not in text and "token-in-path" not in text
    count = "quart_template_http_request_duration_seconds_count"
    assert (value(after, count, route="/healthz", method="GET") or 0) >= 3


async def test_an_unknown_method_is_one_label(client: Client) -> None:
    before = await scrape(client)
    response = await client.open("/healthz", method="BREW")
    assert response.status_code == 405
    after = await scrape(client)
    assert (
        requests(after, "<unmatched>", "other", "405")
        - requests(before, "<unmatched>", "other", "405")
        == 1
    )


async def test_logins_are_counted_by_outcome(client: Client, rt: Runtime) -> None:
    await create_person(rt, email="ada@example.com")
    before = await scrape(client)
    await json_error(await log_in(client, "ada@example.com", "wrong passphrase"), 401)
    await json_error(await log_in(client, "nobody@example.com", "wrong passphrase"), 401)
    assert (await log_in(client, "ada@example.com")).status_code == 200
    after = await scrape(client)

    def delta(outcome: str) -> float:
        return (value(after, LOGINS, outcome=outcome) or 0) - (
            value(before, LOGINS, outcome=outcome) or 0
        )

    assert (delta("failed"), delta("succeeded"), delta("second_factor_required")) == (2, 1, 0)


async def test_rate_limit_refusals_are_counted_by_scope(
    make_settings: Callable[..., Settings],
) -> None:
    name = "quart_template_rate_limit_refusals_total"
    async with create_app(make_settings(login_limit_per_ip="2/15minutes")).test_app() as app:
        client = app.test_client()
        before = value(await scrape(client), name, scope="login") or 0
        for _ in range(2):
            await json_error(await log_in(client, "ada@example.com", "wrong passphrase"), 401)
        for _ in range(2):
            await json_error(await log_in(client, "ada@example.com", "wrong passphrase"), 429)
        assert value(await scrape(client), name, scope="login") == before + 2


async def test_the_outbox_backlog_and_the_pool_are_read_at_scrape_time(
    make_settings: Callable[..., Settings],
) -> None:
    async with create_app(make_settings(relay_in_app=False)).test_app() as app:
        client, rt = app.test_client(), app.app.extensions["runtime"]  # type: ignore[attr-defined]
        samples = await scrape(client)
        assert value(samples, "quart_template_database_up") == 1
        assert value(samples, PENDING, destination="email") == 0
        assert value(samples, AGE, destination="email") == 0
        await create_person(rt, verified=False)
        response = await client.post("/resend_confirmation", json={"email": "ada@example.com"})
        assert response.status_code == 200, await response.get_json()
        samples = await scrape(client)
        assert value(samples, PENDING, destination="email") == 1  # no relay runs: it waits
        assert (value(samples, AGE, destination="email") or 0) > 0
        assert value(samples, "quart_template_outbox_dead", destination="email") == 0
        assert value(samples, "quart_template_database_pool_size") == rt.engine.pool.size()
        assert value(samples, "quart_template_database_pool_connections_in_use") is not None


async def test_a_database_that_is_down_still_gets_a_scrape(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down() -> dict[str, Any]:
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(rt, "outbox_metrics", down)
    samples = await scrape(client)
    assert value(samples, "quart_template_database_up") == 0
    assert not BACKLOG & names(samples)
    assert REQUESTS in names(samples)


async def test_a_database_that_hangs_still_gets_a_scrape_in_time(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hangs() -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr(rt, "outbox_metrics", hangs)
    monkeypatch.setattr(exposition, "BACKLOG_TIMEOUT_SECONDS", 0.05)
    samples = await scrape(client)
    assert value(samples, "quart_template_database_up") == 0
    assert not BACKLOG & names(samples)


async def test_both_metrics_endpoints_stay_out_of_the_openapi_document(client: Client) -> None:
    paths = (await (await client.get("/openapi.json")).get_json())["paths"]
    assert "/metrics" not in paths and "/metrics.json" not in paths
