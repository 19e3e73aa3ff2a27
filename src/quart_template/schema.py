"""Base models for request and response bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from quart import Response, jsonify

# Answers carrying a token, an OTP secret, a QR code or recovery codes must not be kept by
# browsers or proxies.
NO_STORE = {"Cache-Control": "no-store"}


def reply(body: dict[str, Any], status: int = 200, *, no_store: bool = False) -> Response:
    """A JSON answer built directly (documented by `document_response`): quart-schema's
    generic conversion of a returned dict costs more than the rest of a token check."""
    response = jsonify(body)
    response.status_code = status
    if no_store:
        response.headers.update(NO_STORE)
    return response


class RequestModel(BaseModel):
    """Unknown fields are refused: nobody sets `verified` or `active` through a body."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class Message(ResponseModel):
    success: bool = True
    message: str
