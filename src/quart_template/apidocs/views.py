"""`/docs`: an HTML5 page that loads Swagger UI's files (shipped by the `swagger-ui-bundle-v2`
package) and a small start-up script from `/docs/assets/<token>/...`, and points it at
`/openapi.json`. Nothing comes from another host, so it works with no internet. Every URL in the
page is relative, so it also works behind a path prefix (nginx's `/api/`)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from string import Template

from quart import Blueprint, Response, send_file
from quart_schema import hide
from swagger_ui_bundle import swagger_ui_path

from quart_template.errors import NotFound

HERE = Path(__file__).resolve().parent
SWAGGER_DIR = Path(str(swagger_ui_path))
# What the page loads, and nothing else of Swagger UI's distribution.
ASSETS = {
    "swagger-ui.css": SWAGGER_DIR / "swagger-ui.css",
    "swagger-ui-bundle.js": SWAGGER_DIR / "swagger-ui-bundle.js",
    "favicon-32x32.png": SWAGGER_DIR / "favicon-32x32.png",
    "docs.js": HERE / "docs.js",
}
YEAR = 365 * 24 * 3600
ASSET_CACHE = f"public, max-age={YEAR}, immutable"

blueprint = Blueprint("apidocs", __name__)


def asset_token() -> str:
    """A digest of every asset: their URLs change with their content, so they can be cached
    for a year. Reading them here also fails the start of an install that lacks one."""
    digest = hashlib.sha256()
    for name, path in sorted(ASSETS.items()):
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


TOKEN = asset_token()
PAGE = Template((HERE / "page.html").read_text(encoding="utf-8")).substitute(token=TOKEN)


@blueprint.get("/docs")
@hide
async def page() -> Response:
    """The docs page; revalidated at every visit, so a new version shows at once."""
    response = Response(PAGE, mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/docs/assets/<token>/<name>")
@hide
async def asset(token: str, name: str) -> Response:
    """One of the page's files (read without blocking the loop); any other name is a 404."""
    path = ASSETS.get(name)
    if token != TOKEN or path is None:
        raise NotFound()
    response = await send_file(path, conditional=True, cache_timeout=YEAR)
    response.headers["Cache-Control"] = ASSET_CACHE
    return response
