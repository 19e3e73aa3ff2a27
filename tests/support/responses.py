"""Every answer a route of the app gives during the test suite is checked against what the route
documents in /openapi.json: a success against its response model (which refuses undeclared
fields), an error against the one error shape and the statuses its route documents (a 500 is
never one). So the document cannot drift from the code."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Quart, Response, request
from quart_schema.openapi import QUART_SCHEMA_HIDDEN_ATTRIBUTE
from quart_schema.validation import QUART_SCHEMA_RESPONSE_ATTRIBUTE

from quart_template.openapi import error_statuses
from quart_template.schema import ErrorResponse


def documented_models(view: Any) -> dict[int, type[BaseModel]]:
    """The response model per status a view documents."""
    schemas = getattr(view, QUART_SCHEMA_RESPONSE_ATTRIBUTE, {})
    return {status: model for status, (model, _headers) in schemas.items()}


def problem_with(view: Any, method: str, status: int, body: Any) -> str | None:
    """Why `body` (sent with `status`) does not match the view's documents, or None."""
    if status >= 400:
        model: type[BaseModel] | None = ErrorResponse
        if isinstance(body, dict) and body.get("success") is not False:
            return f"an error ({status}) without success: false"
        if status not in error_statuses(view, {method}):  # a 500 is never documented
            return f"error status {status} is not documented"
    else:
        model = documented_models(view).get(status)
        if model is None:
            return f"status {status} is not documented"
    try:
        model.model_validate(body)
    except ValidationError as error:
        return f"the answer does not match {model.__name__}: {error}"
    return None


def install_response_check(app: Quart, problems: list[str]) -> None:
    """Check every JSON answer of the app's own routes; collect what is wrong."""

    @app.after_request
    async def _check(response: Response) -> Response:
        endpoint = request.endpoint or ""
        view = app.view_functions.get(endpoint)
        if (
            view is None
            or not view.__module__.startswith("quart_template.")
            or getattr(view, QUART_SCHEMA_HIDDEN_ATTRIBUTE, False)
        ):
            # Routes of the tests themselves, and those the document leaves out on purpose
            # (@hide): /openapi.json, the /docs page and its files (HTML, CSS, JS), health probes.
            return response
        if response.mimetype != "application/json" or request.method == "OPTIONS":
            return response
        problem = problem_with(
            view, request.method, response.status_code, await response.get_json()
        )
        if problem is not None:
            problems.append(f"{request.method} {request.path}: {problem}")
        return response
