"""Base models for request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Unknown fields are refused: nobody sets `verified` or `active` through a body."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """What a route answers: exactly the fields declared (a test checks every answer)."""

    model_config = ConfigDict(extra="forbid")


class Message(ResponseModel):
    success: bool = True
    message: str
