"""What /openapi.json says beyond quart-schema's defaults: every answer an operation can give.

The error statuses of a route are computed in one place (`error_statuses`) from what the view is
made of (auth, step-up, rate limit, body, database) plus the ones its module declares next to it
with `@answers(...)`; the test suite checks every error it sees against the same function."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from quart_schema import OpenAPIProvider
from quart_schema.validation import DataSource
from werkzeug.routing.rules import Rule

from quart_template.errors import DEFAULT_MESSAGES
from quart_template.schema import ErrorResponse
from quart_template.web import rate_limit_scope

T = TypeVar("T", bound=Callable[..., Any])

ANSWERS_ATTR = "__error_answers__"
PLAIN_ATTR = "__plain_answer__"
NO_DATABASE_ATTR = "__no_database__"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
TOKEN_SCHEME = (
    "The access token from a sign-in: `Authorization: Bearer <token>`, or `Basic <token>` as "
    "Flask Template sent it (the token itself, not base64 of user:password). A malformed, "
    "forged, expired or revoked token is a 401, also where signing in is optional."
)
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def answers(*statuses: int) -> Callable[[T], T]:
    """Declare the error statuses a view's own rules give (beyond the computed ones)."""

    def decorate(view: T) -> T:
        setattr(view, ANSWERS_ATTR, frozenset(statuses) | getattr(view, ANSWERS_ATTR, set()))
        return view

    return decorate


def plain_answer(
    *, media_type: str | None, description: str, headers: Iterable[str] = ()
) -> Callable[[T], T]:
    """Document a 200 that is no JSON body: text (`media_type`) or empty (None) with headers."""

    def decorate(view: T) -> T:
        setattr(view, PLAIN_ATTR, (media_type, description, tuple(headers)))
        return view

    return decorate


def no_database(view: T) -> T:
    """The view answers without the database (so never 503)."""
    setattr(view, NO_DATABASE_ATTR, True)
    return view


def error_statuses(view: Any, methods: Iterable[str]) -> frozenset[int]:
    """Every error status the view can answer with, for a rule with these methods."""
    found = set(getattr(view, ANSWERS_ATTR, ()))
    if getattr(view, "auth_mode", None) is not None:
        found.add(401)  # also "optional": a bad header is refused, never ignored
    if getattr(view, "needs_recent_proof", False):
        found.add(403)
    if rate_limit_scope(view) is not None:
        found.add(429)
    if BODY_METHODS & set(methods):
        found |= {400, 413, 415}  # the request guards read every body (app.py)
    if not getattr(view, NO_DATABASE_ATTR, False):
        found.add(503)
    return frozenset(found)


class Provider(OpenAPIProvider):
    """quart-schema's document, completed: error answers, required bodies, plain answers."""

    def schema(self) -> dict[str, Any]:
        self._components: dict[str, Any] = {}
        document = super().schema()
        components = document["components"]["schemas"]
        components["ErrorResponse"] = ErrorResponse.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(components["ErrorResponse"].pop("$defs", {}))
        for scheme in document["components"].get("securitySchemes", {}).values():
            scheme["description"] = TOKEN_SCHEME
        return document

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        for name, definition in components.items():
            # quart-schema keys components by class name: two models of one name would
            # silently describe each other's answers.
            if self._components.setdefault(name, definition) != definition:
                raise ValueError(f"two different models are both named {name!r}")
        view = self._app.view_functions[rule.endpoint]
        statuses = error_statuses(view, rule.methods or ())
        area = rule.endpoint.partition(".")[0]  # the blueprint: accounts, signin, mfa, ...
        for operations in paths.values():
            for operation in operations.values():
                self._complete(operation, view, statuses)
                operation.setdefault("tags", [area])
        return paths, components

    def _complete(self, operation: dict[str, Any], view: Any, statuses: frozenset[int]) -> None:
        responses = operation["responses"] = dict(operation["responses"])
        plain = getattr(view, PLAIN_ATTR, None)
        if plain is not None:
            responses[200] = _plain_response(*plain)
        for status in sorted(statuses):
            responses[status] = _error_response(status)
        body = operation.get("requestBody")
        if body is not None:
            operation["requestBody"] = {**body, "required": True}

    def build_path_parameter(self, name: str, converter: Any) -> dict[str, Any]:
        """An `any(...)` converter's names in a stable order (werkzeug keeps them in a set, so
        the document would change from one process to the next)."""
        parameter = super().build_path_parameter(name, converter)
        if "enum" in parameter["schema"]:
            parameter["schema"]["enum"] = sorted(parameter["schema"]["enum"])
        return parameter

    def build_request_body(
        self, model: Any, source: DataSource
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A form route (Pusher's channel auth) also takes the same fields as JSON."""
        body, definitions = super().build_request_body(model, source)
        if source != DataSource.JSON:
            content = body["content"]
            content["application/json"] = next(iter(content.values()))
        return body, definitions

    def build_response_object(
        self, model: Any, headers_model: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """quart-schema puts response headers inside `content`; they belong beside it."""
        response, definitions = super().build_response_object(model, headers_model)
        headers = response["content"].pop("headers", None)
        if headers is not None:
            response["headers"] = headers
        return response, definitions


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DEFAULT_MESSAGES.get(status, "Error."),
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def _plain_response(media_type: str | None, description: str, headers: tuple[str, ...]) -> Any:
    response: dict[str, Any] = {"description": description}
    if media_type is not None:
        response["content"] = {media_type: {"schema": {"type": "string"}}}
    if headers:
        response["headers"] = {
            name: {"schema": {"type": "string"}, "required": True} for name in headers
        }
    return response
