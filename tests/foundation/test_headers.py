"""Security headers on every answer (successes, errors, preflights), the docs page's own policy,
HSTS, CORS without credentials, DOCS_ENABLED and METRICS_TOKEN."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quart_template.headers import API_POLICY, DOCS_POLICY
from tests.support.http import auth, json_error

FRONT_END = {"Origin": "http://frontend.test"}


def directives(policy: str) -> dict[str, str]:
    """A Content-Security-Policy as {directive: its sources}."""
    return {name: sources for name, _, sources in (p.partition(" ") for p in policy.split("; "))}


def assert_security_headers(response: Any) -> None:
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == API_POLICY
    assert API_POLICY == "default-src 'none'; frame-ancestors 'none'"
    assert "Strict-Transport-Security" not in response.headers  # HSTS_SECONDS unset


async def test_a_json_answer_carries_the_security_headers(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.mimetype == "application/json"
    assert_security_headers(response)
    assert_security_headers(await client.get("/"))


async def test_errors_carry_them_too(app: Quart, client: Client) -> None:
    await json_error(response := await client.get("/no/such/path"), 404)
    assert_security_headers(response)
    await json_error(response := await client.post("/login", json={"email": "x"}), 400)
    assert_security_headers(response)

    @app.get("/boom-headers")
    async def boom() -> str:
        raise RuntimeError("boom")

    await json_error(response := await app.test_client().get("/boom-headers"), 500)
    assert_security_headers(response)


async def test_a_preflight_carries_cors_without_credentials(client: Client) -> None:
    response = await client.options("/login", headers=FRONT_END)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://frontend.test"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert "Origin" in response.headers["Vary"]
    assert_security_headers(response)


async def test_a_cross_origin_answer_exposes_retry_after(client: Client) -> None:
    response = await client.post("/login", json={"email": "a@example.com"}, headers=FRONT_END)
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == "http://frontend.test"
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert "Access-Control-Allow-Credentials" not in response.headers
    foreign = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert "Access-Control-Expose-Headers" not in foreign.headers


async def test_the_docs_page_has_its_own_policy_and_the_document_the_apis(
    client: Client,
) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = directives(response.headers["Content-Security-Policy"])
    assert response.headers["Content-Security-Policy"] == DOCS_POLICY
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in DOCS_POLICY and "'unsafe-eval'" not in DOCS_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert_security_headers(await client.get("/openapi.json"))


async def test_hsts_when_hsts_seconds_is_set(serve: Callable[..., Any]) -> None:
    client = await serve(hsts_seconds=31536000)
    for response in (await client.get("/healthz"), await client.get("/no/such/path")):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


async def test_docs_enabled_false_turns_the_docs_off(serve: Callable[..., Any]) -> None:
    client = await serve(docs_enabled=False)
    for path in ("/docs", "/openapi.json"):
        response = await client.get(path)
        await json_error(response, 404)
        assert_security_headers(response)
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("path", ["/metrics", "/metrics.json"])
async def test_metrics_token_guards_metrics(serve: Callable[..., Any], path: str) -> None:
    client = await serve(metrics_token="m-3tr1cs-token")
    await json_error(await client.get(path), 401)
    await json_error(await client.get(path, headers=auth("wrong", "Bearer")), 401)
    await json_error(await client.get(path, headers=auth("m-3tr1cs-token", "Basic")), 401)
    response = await client.get(path, headers=auth("m-3tr1cs-token", "Bearer"))
    assert response.status_code == 200
    if path == "/metrics.json":
        assert "outbox" in await response.get_json()
    else:
        assert "quart_template_http_requests_total" in await response.get_data(as_text=True)


async def test_metrics_are_open_without_a_token(client: Client) -> None:
    assert (await client.get("/metrics")).status_code == 200
    assert (await client.get("/metrics.json")).status_code == 200
