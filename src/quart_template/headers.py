"""The headers every answer carries: CORS for the front end's origins, and the security headers
(no referrer, no framing, no sniffing, a Content-Security-Policy, HSTS when configured).

The API answers JSON that no browser should render, frame or run: its policy allows nothing.
The one HTML page, Swagger UI at `/docs`, gets a policy that admits exactly what it loads: its
script and stylesheet URLs, its inline start-up script (by hash), and the OpenAPI document."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from quart import Quart, Response, request

from quart_template.settings import Settings

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_ENDPOINT = "swagger_ui"  # quart-schema's name for the /docs page
# An inline script: a <script> element without attributes (the page's start-up code).
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def register_response_headers(app: Quart, settings: Settings) -> None:
    """Add CORS and the security headers to every answer, errors and preflights included."""
    origins = set(settings.allowed_origins)
    hsts = f"max-age={settings.hsts_seconds}" if settings.hsts_seconds else None

    @app.after_request
    async def _headers(response: Response) -> Response:
        _cors(response, origins)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if hsts:
            response.headers["Strict-Transport-Security"] = hsts
        response.headers["Content-Security-Policy"] = await _policy(app, response)
        return response


def _cors(response: Response, origins: set[str]) -> None:
    """The front end's origins may call the API; no cookies are involved, so no credentials."""
    response.vary.add("Origin")  # the answer differs per Origin: caches must keep them apart
    origin = request.headers.get("Origin", "").rstrip("/")
    if origin and origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
        response.headers["Access-Control-Max-Age"] = "600"
        # Without it, browser code cannot read how long a 429 asks it to wait.
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"


async def _policy(app: Quart, response: Response) -> str:
    if request.endpoint != DOCS_ENDPOINT or response.status_code != 200:
        return API_POLICY
    page = await response.get_data(as_text=True)
    config = app.config
    return docs_policy(
        page,
        scripts=[config.get("QUART_SCHEMA_SWAGGER_JS_URL", "")],
        styles=[config.get("QUART_SCHEMA_SWAGGER_CSS_URL", "")],
    )


def docs_policy(page: str, *, scripts: Iterable[str], styles: Iterable[str]) -> str:
    """What Swagger UI needs and nothing more: its files, its inline start-up script, inline
    styles (it sets some while rendering), data: images (its icons) and same-origin fetches
    (the OpenAPI document, "try it out")."""
    hashes = [f"'sha256-{_digest(script)}'" for script in _INLINE_SCRIPT.findall(page)]
    script_src = " ".join(["'self'", *_absolute(scripts), *hashes])
    style_src = " ".join(["'self'", *_absolute(styles), "'unsafe-inline'"])
    return (
        f"default-src 'none'; script-src {script_src}; style-src {style_src}; "
        "img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _digest(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode()).digest()).decode("ascii")


def _absolute(urls: Iterable[str]) -> list[str]:
    """The asset URLs a policy can name (a same-origin path is covered by 'self')."""
    return [url for url in urls if url.startswith(("https://", "http://"))]
