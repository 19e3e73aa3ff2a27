"""One error family, one JSON shape: `{"success": false, "message": ...}` with a real status."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ValidationError
from quart import Quart, Response, current_app, jsonify
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from quart_template.dbfaults import RETRY_AFTER_SECONDS, database_unavailable

log = logging.getLogger(__name__)

JSON_REQUIRED = "Please use 'application/json'"
DATABASE_DOWN = "The database is unavailable, please try again shortly."

DEFAULT_MESSAGES = {
    400: "Bad request.",
    401: "Authentication required.",
    403: "You are not allowed to do that.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict.",
    413: "Request body too large.",
    415: "Unsupported media type: please use 'application/json'.",
    429: "Too many attempts, please try again later.",
    500: "Internal server error.",
    501: "Not implemented.",
    502: "An upstream service failed.",
    503: "Service unavailable.",
    504: "An upstream service timed out.",
}


class APIError(Exception):
    """An error a client should see: its status and a human sentence. A subclass may add fields
    a client acts on to the body (`body_fields`), and may say it is no failed credential check
    (`credential_failure = False`), so the rate limits do not count it."""

    status = 400
    body_fields: ClassVar[Mapping[str, Any]] = {}
    credential_failure: ClassVar[bool] = True

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if status is not None:
            self.status = status
        self.message = message or DEFAULT_MESSAGES.get(self.status, "Error.")
        self.errors = errors
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(APIError):
    status = 400


class Unauthorized(APIError):
    status = 401


class Forbidden(APIError):
    status = 403


class NotFound(APIError):
    status = 404


class Conflict(APIError):
    status = 409


class TooManyRequests(APIError):
    status = 429

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class NotImplementedHere(APIError):
    """A feature this deployment has not configured (e.g. a social provider)."""

    status = 501


class BadGateway(APIError):
    status = 502


class GatewayTimeout(APIError):
    status = 504


def error_response(
    status: int,
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {"success": False, "message": message, **(extra or {})}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validation_details(error: Exception) -> list[dict[str, Any]]:
    if not isinstance(error, ValidationError):
        return []
    return [
        {"field": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def register_error_handlers(app: Quart) -> None:
    """Every failure, expected or not, leaves as the JSON error shape."""

    @app.errorhandler(APIError)
    async def _api_error(error: APIError) -> Response:
        return error_response(
            error.status,
            error.message,
            errors=error.errors,
            headers=error.headers,
            extra=error.body_fields,
        )

    @app.errorhandler(RequestSchemaValidationError)
    async def _schema_error(error: RequestSchemaValidationError) -> Response:
        details = _validation_details(error.validation_error)
        if not details:
            return error_response(400, JSON_REQUIRED)
        first = details[0]
        message = f"Invalid request: {first['field'] or 'body'}: {first['message']}"
        return error_response(400, message, errors=details)

    @app.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        headers = {}
        valid_methods = getattr(error, "valid_methods", None)
        if status == 405 and valid_methods:
            headers["Allow"] = ", ".join(valid_methods)
        return error_response(status, DEFAULT_MESSAGES.get(status, error.name), headers=headers)

    @app.errorhandler(Exception)
    async def _unexpected(error: Exception) -> Response:
        if database_unavailable(error):
            # A blip, not a bug: one line, no traceback; the client may simply try again.
            log.warning(
                "database unavailable",
                extra={"event": "database_unavailable", "error": type(error).__name__},
            )
            return error_response(
                503,
                DATABASE_DOWN,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        log.exception("unhandled error", extra={"event": "unhandled_error"})
        reporter = current_app.extensions.get("rollbar_report")
        if reporter is not None:
            reporter(error)
        return error_response(500, DEFAULT_MESSAGES[500])
