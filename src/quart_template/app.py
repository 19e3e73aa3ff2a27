"""The application factory: wiring only, no rules."""

from __future__ import annotations

import gc
import json
import logging
from typing import Any

from quart import Quart, Response, current_app, request
from quart_schema import QuartSchema
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE, DataSource

from quart_template import __version__
from quart_template.access import register_access_log
from quart_template.errors import JSON_REQUIRED, error_response, register_error_handlers
from quart_template.headers import register_response_headers
from quart_template.lifecycle import close_runtime, open_runtime
from quart_template.logs import configure_logging
from quart_template.openapi import Provider
from quart_template.runtime import Runtime
from quart_template.settings import Settings, load_settings

log = logging.getLogger(__name__)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_SUMMARY = (
    "Accounts and authentication: sign-up, login, MFA, social sign-in, sessions, entity events. "
    "Every operation lists every answer it can give; every error is "
    '`{"success": false, "message": ...}` (see ErrorResponse).'
)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def create_app(settings: Settings | None = None) -> Quart:
    """Build the app; connections are opened in `before_serving`, closed in `after_serving`."""
    settings = settings or load_settings()
    settings.check()
    configure_logging(settings)

    app = Quart("quart_template")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.config["JSON_SORT_KEYS"] = False
    QuartSchema(
        app,
        info={"title": "Quart Template", "version": __version__, "description": API_SUMMARY},
        security_schemes={"token": {"type": "http", "scheme": "bearer"}},
        # DOCS_ENABLED=false: neither the document nor the page (both 404 then). The page is
        # ours (quart_template.apidocs), not quart-schema's, which loads Swagger UI from a CDN.
        openapi_path="/openapi.json" if settings.docs_enabled else None,
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        openapi_provider_class=Provider,
    )
    register_error_handlers(app)
    register_access_log(app)
    _register_request_guards(app, settings)
    register_response_headers(app, settings)
    _register_lifecycle(app, settings)
    _register_blueprints(app)
    if settings.docs_enabled:
        _register_docs(app)
    if settings.rollbar_access_token:
        _init_rollbar(app, settings)
    return app


def _register_blueprints(app: Quart) -> None:
    from quart_template.accounts.views import blueprint as accounts
    from quart_template.events.views import blueprint as events
    from quart_template.health import blueprint as health
    from quart_template.mfa.views import blueprint as mfa
    from quart_template.passkeys.views import blueprint as passkeys
    from quart_template.security.views import blueprint as security
    from quart_template.sessions.views import blueprint as sessions
    from quart_template.signin.views import blueprint as signin
    from quart_template.social.views import blueprint as social

    for blueprint in (health, signin, accounts, sessions, mfa, passkeys, social, events, security):
        app.register_blueprint(blueprint)


def _register_docs(app: Quart) -> None:
    """`/docs` and its assets, from the app itself (DOCS_ENABLED)."""
    from quart_template.apidocs.views import blueprint as apidocs

    app.register_blueprint(apidocs)


def _register_lifecycle(app: Quart, settings: Settings) -> None:
    @app.before_serving
    async def _start() -> None:
        app.extensions["runtime"] = await open_runtime(settings)
        # What startup built (modules, the app, the engine, the runtime) lives as long as the
        # process: take it out of the collector's sight, or every full collection walks it
        # again (120 ms pauses on the 2-vCPU VM, the p99 of every route under load).
        gc.collect()
        gc.freeze()

    @app.after_serving
    async def _stop() -> None:
        rt: Runtime | None = app.extensions.pop("runtime", None)
        if rt is not None:
            await close_runtime(rt)


def _register_request_guards(app: Quart, settings: Settings) -> None:
    """Preflights, body size and content type, before any view runs."""

    @app.before_request
    async def _guard() -> Response | None:
        rt: Runtime | None = app.extensions.get("runtime")
        if rt is not None:
            rt.activity.seen()
        if request.routing_exception is not None:
            return None  # an unknown path or method is a 404/405, whatever its body
        if request.method == "OPTIONS":  # CORS headers, if any, come from `headers`
            return Response("", status=204, headers={"Allow": ", ".join(_methods_of_path())})
        if request.method not in BODY_METHODS:
            return None
        length = request.content_length
        if length is not None and length > settings.max_body_bytes:
            return error_response(413, "Request body too large.")
        return await _check_json_body()


def _methods_of_path() -> list[str]:
    """Every method of the requested path, also those of its other rules (GET and POST
    /recovery_codes are two views)."""
    matched = request.url_rule.rule if request.url_rule else None
    methods = {
        method
        for rule in current_app.url_map.iter_rules()
        if rule.rule == matched
        for method in rule.methods or ()
    }
    return sorted(methods)


async def _check_json_body() -> Response | None:
    """A JSON route gets a JSON object or a clear 400/415; other routes refuse odd bodies."""
    view = current_app.view_functions.get(request.endpoint or "")
    schema = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
    expects_form = schema is not None and schema[1] != DataSource.JSON
    mimetype = request.mimetype or ""
    body = await request.get_data(as_text=False)
    is_json = mimetype == "application/json" or mimetype.endswith("+json")
    if expects_form and not is_json:  # a JSON body to a form route is checked as JSON below
        if body and mimetype not in FORM_TYPES:
            return error_response(415, "Unsupported media type.")
        return None
    if not body:
        return error_response(400, JSON_REQUIRED) if schema is not None else None
    if not mimetype:
        return error_response(400, JSON_REQUIRED)  # undeclared: not JSON as far as we know
    if not is_json:
        return error_response(415, "Unsupported media type: please use 'application/json'.")
    try:
        # Decoded first so a BOM is refused here as it would be by the view's parser;
        # absurd nesting (RecursionError) is a bad body, not a crash.
        parsed: Any = json.loads(body if isinstance(body, str) else body.decode("utf-8"))
    except (ValueError, RecursionError):
        return error_response(400, JSON_REQUIRED)
    if not isinstance(parsed, dict):
        return error_response(400, JSON_REQUIRED)
    return None


def _init_rollbar(app: Quart, settings: Settings) -> None:
    import rollbar

    rollbar.init(
        settings.rollbar_access_token or "",
        environment=settings.app_env,
        handler="thread",  # the HTTP call happens off the event loop
        capture_ip=False,
        scrub_fields=["password", "access_token", "otp", "recovery_code", "secret", "token"],
    )

    def report(error: BaseException) -> None:
        rollbar.report_exc_info((type(error), error, error.__traceback__))

    app.extensions["rollbar_report"] = report
