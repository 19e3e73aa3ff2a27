"""`/docs` is a whole HTML5 page that loads only the app's own files, which carry long cache
headers and the docs' own Content-Security-Policy; DOCS_ENABLED=false turns all of it off."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from quart.typing import TestClientProtocol as Client

from quart_template.apidocs.views import ASSETS, SWAGGER_DIR, TOKEN
from quart_template.headers import API_POLICY, DOCS_POLICY
from tests.support.http import json_error

# src= and href= in the page: what a browser loads (or follows) from it.
REFERENCE = re.compile(r'(?:src|href)="([^"]*)"')


async def page_references(client: Client) -> list[str]:
    page = await (await client.get("/docs")).get_data(as_text=True)
    return REFERENCE.findall(page)


async def test_the_docs_page_is_an_html5_document(client: Client) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html" and response.mimetype_params["charset"] == "utf-8"
    page = await response.get_data(as_text=True)
    assert page.startswith('<!doctype html>\n<html lang="en">')
    assert '<meta charset="utf-8">' in page
    assert re.search(r"<title>[^<]+</title>", page)
    assert page.rstrip().endswith("</html>")
    assert response.headers["Cache-Control"] == "no-cache"


async def test_it_loads_only_the_apps_own_files_and_no_inline_script(client: Client) -> None:
    references = await page_references(client)
    assert references, "the page references its stylesheet and scripts"
    for url in references:
        assert not re.match(r"[a-z]+:|//", url), f"{url} is not on the app's own origin"
    page = await (await client.get("/docs")).get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+=", page)  # no onload= and such handlers


async def test_every_file_it_references_is_served_with_long_cache_headers(
    client: Client,
) -> None:
    assets = [url for url in await page_references(client) if url.startswith("docs/assets/")]
    assert {url.rsplit("/", 1)[1] for url in assets} == set(ASSETS)
    types = set()
    for url in assets:
        response = await client.get(f"/{url}")
        assert response.status_code == 200, url
        assert len(await response.get_data()) > 0
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Content-Security-Policy"] == DOCS_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        types.add(response.mimetype)
    javascript = {"text/javascript", "application/javascript"}  # by Python's version
    assert {"text/css", "image/png"} < types and len(types & javascript) == 1
    assert "openapi.json" in await page_references(client)  # relative: works under a prefix


async def test_an_asset_is_revalidated_with_its_etag(client: Client) -> None:
    first = await client.get(f"/docs/assets/{TOKEN}/swagger-ui-bundle.js")
    again = await client.get(
        f"/docs/assets/{TOKEN}/swagger-ui-bundle.js",
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304 and await again.get_data() == b""


async def test_other_names_and_stale_tokens_are_json_404s(client: Client) -> None:
    for path in (
        f"/docs/assets/{TOKEN}/index.html",  # in Swagger UI's folder, but not ours to serve
        f"/docs/assets/{TOKEN}/swagger-initializer.js",
        f"/docs/assets/{TOKEN}/..%2F..%2Fsettings.py",
        f"/docs/assets/{TOKEN}/../views.py",
        "/docs/assets/0123456789abcdef/docs.js",  # an old version's URL
        "/docs/assets/docs.js",
        "/docs/",
    ):
        response = await client.get(path)
        await json_error(response, 404)
        assert response.headers["Content-Security-Policy"] == API_POLICY, path


def test_the_bundled_swagger_ui_renders_openapi_3_1() -> None:
    """Swagger UI 4 (the original swagger-ui-bundle) answers "Unable to render this definition"
    for the OpenAPI 3.1 document quart-schema writes; the two packages share an import name."""
    version = re.fullmatch(r"swagger-ui-(\d+)\.(\d+)\.(\d+)", SWAGGER_DIR.name)
    assert version and int(version[1]) >= 5, SWAGGER_DIR


def test_the_docs_policy_allows_the_apps_own_origin_only() -> None:
    policy = {
        name: sources.split()
        for name, _, sources in (part.partition(" ") for part in DOCS_POLICY.split("; "))
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'"]  # the OpenAPI document, "try it out"
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert not any("http" in source or source == "*" for s in policy.values() for source in s)


async def test_docs_enabled_false_makes_the_page_its_files_and_the_document_404(
    serve: Callable[..., Any],
) -> None:
    client = await serve(docs_enabled=False)
    for path in ("/docs", f"/docs/assets/{TOKEN}/swagger-ui-bundle.js", "/openapi.json"):
        response = await client.get(path)
        await json_error(response, 404)
        assert response.headers["Content-Security-Policy"] == API_POLICY


async def test_docs_enabled_by_default_serves_all_three(serve: Callable[..., Any]) -> None:
    client = await serve()
    for path in ("/docs", f"/docs/assets/{TOKEN}/swagger-ui-bundle.js", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path
