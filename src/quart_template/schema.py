"""Base models for request and response bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Unknown fields are refused: nobody sets `verified` or `active` through a body. Strict:
    `1` is no `true` and `"5"` no number, as /openapi.json says."""

    model_config = ConfigDict(extra="forbid", strict=True)


def exactly_one_of(*names: str) -> dict[str, Any]:
    """The JSON Schema of "exactly one of these fields, not null" (a model validator's rule)."""
    return {"oneOf": [present(name) for name in names]}


def present(name: str) -> dict[str, Any]:
    """The JSON Schema of "`name` is sent and is not null"."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


class ResponseModel(BaseModel):
    """What a route answers: exactly the fields declared (a test checks every answer)."""

    model_config = ConfigDict(extra="forbid")


class Message(ResponseModel):
    success: bool = True
    message: str


class FieldProblem(BaseModel):
    """One field a request got wrong."""

    field: str
    message: str


class ErrorResponse(BaseModel):
    """Every error answer: `success` false, a human sentence, per-field `errors` for a body
    that failed validation, `reauth_required` when a factor change needs a fresh proof."""

    model_config = ConfigDict(extra="forbid")

    success: Literal[False] = False
    message: str
    errors: list[FieldProblem] | None = None
    reauth_required: Literal[True] | None = None
