"""Behind nginx the API lives under `/api/`: `/api/docs` still loads every file it names, and
Swagger UI's OpenAPI document, because the page's URLs are relative."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx

from tests.gateway.conftest import Gateway


def test_the_docs_page_works_under_the_api_prefix(gateway: Gateway, http: httpx.Client) -> None:
    page_url = f"{gateway.a}/api/docs"
    page = http.get(page_url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    references = re.findall(r'(?:src|href|data-openapi)="([^"]*)"', page.text)
    assert "openapi.json" in references
    for reference in references:
        url = urljoin(page_url, reference)
        assert url.startswith(f"{gateway.a}/api/"), url
        response = http.get(url)
        assert response.status_code == 200, url
    assert "paths" in http.get(urljoin(page_url, "openapi.json")).json()
