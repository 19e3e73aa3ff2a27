"""`/docs` works with no internet: a real server on a loopback port, headless Chromium that can
resolve no other host, and Swagger UI renders every operation of /openapi.json from the app's
own files, with nothing refused by the page's Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from quart_template.app import create_app
from quart_template.settings import Settings
from tests.apidocs.browser import Visit, find_chromium, visit
from tests.support.serving import hypercorn_serving

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Swagger UI marks each rendered operation's path so.
OPERATION_PATH = re.compile(r'class="opblock-summary-path" data-path="([^"]+)"')


@pytest.fixture
async def base_url(make_settings: Callable[..., Settings]) -> AsyncIterator[str]:
    """The app served by Hypercorn on a free loopback port (startup and shutdown run)."""
    find_chromium()  # skip before starting anything
    async with hypercorn_serving(create_app(make_settings())) as base:
        yield base


def listed_paths(spec: dict[str, Any]) -> list[str]:
    """The path of every operation, once per tag it has (Swagger UI lists it under each)."""
    return [
        path
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
        for _tag in operation.get("tags") or ["default"]
    ]


def deep_link(spec: dict[str, Any], method: str, path: str) -> str:
    """Swagger UI's deep link to one operation: `#/<its first tag>/<its operation id>`."""
    operation = spec["paths"][path][method]
    tag = (operation.get("tags") or ["default"])[0]
    operation_id = operation.get("operationId") or method + re.sub(r"\W", "_", path)
    return f"#/{tag}/{operation_id}"


async def openapi(base_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        spec: dict[str, Any] = (await http.get(f"{base_url}/openapi.json")).json()
        return spec


def refused_by_the_policy(seen: Visit) -> list[str]:
    return [line for line in seen.console if "Content Security Policy" in line]


async def test_docs_render_every_operation_offline(base_url: str, tmp_path: Path) -> None:
    spec = await openapi(base_url)
    seen = await visit(f"{base_url}/docs", tmp_path)

    rendered = OPERATION_PATH.findall(seen.dom)
    assert {"/login", "/signup"} <= set(rendered), seen.dom[-2000:]
    assert sorted(rendered) == sorted(listed_paths(spec)), "every operation, and no other"

    page_requests = [
        request["url"]
        for request in seen.requests
        if request.get("initiator") == base_url or request.get("request_type") == "main frame"
    ]
    assert f"{base_url}/openapi.json" in page_requests
    assert any(url.endswith("/swagger-ui-bundle.js") for url in page_requests)
    assert all(url.startswith(f"{base_url}/") for url in page_requests), page_requests
    # What Chromium itself tried (update checks and such) resolved no host: nothing left 127.0.0.1.
    assert not refused_by_the_policy(seen)


async def test_an_operation_opens_with_its_try_it_out_button(base_url: str, tmp_path: Path) -> None:
    spec = await openapi(base_url)
    seen = await visit(f"{base_url}/docs{deep_link(spec, 'post', '/login')}", tmp_path)
    blocks = seen.dom.split('class="opblock opblock-')[1:]
    (login,) = [
        block for block in blocks if block.startswith("post") and 'data-path="/login"' in block
    ]
    assert "opblock-body" in login and "try-out__btn" in login  # opened, with its form
    assert sum("opblock-body" in block for block in blocks) == 1  # only that one
    assert not refused_by_the_policy(seen)
