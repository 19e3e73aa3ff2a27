"""The app shell: greeting, health, JSON errors for every status, body rules."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.http import json_error


async def test_index_is_the_seed_greeting(client: Client) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert await response.get_data(as_text=True) == "Welcome to Quart Template."


async def test_health_and_readiness(client: Client) -> None:
    assert (await (await client.get("/healthz")).get_json()) == {"status": "ok"}
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok", "database": "ok", "broker": "off"}


async def test_readyz_is_503_json_when_the_database_is_down(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("database down")

    # Simulated outage: the ping and any other query (outbox numbers) fail.
    monkeypatch.setattr("quart_template.health.ping", down)
    monkeypatch.setattr(rt, "outbox_metrics", down)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert await response.get_json() == {"status": "degraded", "database": "down", "broker": "off"}
    await json_error(await client.get("/metrics.json"), 503)
    assert (await client.get("/healthz")).status_code == 200


async def test_unknown_path_is_json_404(client: Client) -> None:
    response = await client.get("/no/such/path")
    assert response.status_code == 404
    assert await response.get_json() == {"success": False, "message": "Not found."}
    await json_error(await client.post("/no/such/path", json={}), 404)


async def test_wrong_method_is_json_405(client: Client) -> None:
    await json_error(await client.delete("/healthz"), 405)
    await json_error(await client.get("/login"), 405)
    await json_error(await client.put("/signup", json={}), 405)
    await json_error(await client.delete("/logout"), 405)


async def test_unknown_path_or_method_wins_over_body_rules(client: Client) -> None:
    text_body = {"headers": {"Content-Type": "text/plain"}, "data": "hi"}
    assert (await client.post("/no/such/path", **text_body)).status_code == 404
    assert (await client.post("/no/such/path", json=[1])).status_code == 404
    response = await client.put("/login", **text_body)
    assert response.status_code == 405
    assert (await response.get_json())["success"] is False


async def test_preflight_is_204_with_cors_only_for_the_front_end(client: Client) -> None:
    allowed = await client.options("/login", headers={"Origin": "http://frontend.test"})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://frontend.test"
    assert "POST" in allowed.headers["Allow"]
    foreign = await client.options("/login", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 204
    assert "Access-Control-Allow-Origin" not in foreign.headers


async def test_openapi_document_and_docs(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = await response.get_json()
    assert spec["openapi"].startswith("3.")
    docs = await client.get("/docs")
    assert docs.status_code == 200 and docs.mimetype == "text/html"


async def test_a_raising_route_gives_json_500_without_traceback(app: Quart) -> None:
    @app.get("/boom-test")
    async def boom() -> str:
        raise RuntimeError("secret internals")

    response = await app.test_client().get("/boom-test")
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    text = await response.get_data(as_text=True)
    assert "secret internals" not in text
    assert "Traceback" not in text
    assert await response.get_json() == {"success": False, "message": "Internal server error."}


async def test_cors_allows_the_frontend_origin_only(client: Client) -> None:
    ok = await client.get("/healthz", headers={"Origin": "http://frontend.test"})
    assert ok.headers["Access-Control-Allow-Origin"] == "http://frontend.test"
    other = await client.get("/healthz", headers={"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_readyz_is_503_once_shutdown_begins(app: Quart, client: Client, rt: Runtime) -> None:
    """SIGTERM marks the process draining before Hypercorn stops: a load balancer stops sending."""
    import asyncio

    from quart_template.serving import begin_shutdown

    assert (await client.get("/readyz")).status_code == 200
    shutdown = asyncio.Event()
    begin_shutdown(app, shutdown)
    assert shutdown.is_set()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert (await response.get_json())["status"] == "degraded"
    assert (await client.get("/healthz")).status_code == 200  # alive, just not taking traffic


async def test_a_shutdown_delay_keeps_serving_while_readiness_fails(
    app: Quart, client: Client
) -> None:
    """SHUTDOWN_DELAY: readiness fails at once, the listener closes only later; a second signal
    (an impatient operator) closes it at once."""
    import asyncio

    from quart_template.serving import begin_shutdown

    shutdown = asyncio.Event()
    begin_shutdown(app, shutdown, delay=60)
    assert not shutdown.is_set()
    assert (await client.get("/readyz")).status_code == 503
    assert (await client.get("/healthz")).status_code == 200
    begin_shutdown(app, shutdown, delay=60)
    assert shutdown.is_set()


async def test_a_signal_while_the_app_is_still_starting_closes_at_once(settings: Settings) -> None:
    """Before startup has built the runtime nobody has seen the process ready, and a delay
    would let it start serving with a readiness that knows nothing of the signal."""
    import asyncio

    from quart_template.serving import begin_shutdown

    starting = create_app(settings)  # not serving yet: no runtime
    shutdown = asyncio.Event()
    begin_shutdown(starting, shutdown, delay=60)
    assert shutdown.is_set()


async def test_what_startup_built_is_kept_out_of_the_collectors_way(settings: Settings) -> None:
    """Full collections would otherwise walk every module, model and engine object again
    (pauses of about 120 ms on a 2-vCPU VM: the p99 of every route under load)."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    async with create_app(settings).test_app():
        assert gc.get_freeze_count() > 10_000
