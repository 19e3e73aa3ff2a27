"""The headers every answer carries: CORS for the front end's origins, and the security headers
(no referrer, no framing, no sniffing, a Content-Security-Policy, HSTS when configured).

The API answers JSON that no browser should render, frame or run: its policy allows nothing.
The one HTML page, Swagger UI at `/docs`, and its assets get a policy that admits the app's own
origin only: every file it loads is served by the app (quart_template.apidocs), no inline script."""

from __future__ import annotations

from quart import Quart, Response, request

from quart_template.settings import Settings

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI: its files and the OpenAPI document from here, data: images (its icons), nothing
# inline (it sets styles through the DOM, which style-src does not govern), nothing framed.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_ENDPOINTS = frozenset({"apidocs.page", "apidocs.asset"})


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
        response.headers["Content-Security-Policy"] = _policy(response)
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


def _policy(response: Response) -> str:
    """The docs' own policy for the docs page and its files; an error (JSON) gets the API's."""
    if request.endpoint in DOCS_ENDPOINTS and response.status_code < 400:
        return DOCS_POLICY
    return API_POLICY
