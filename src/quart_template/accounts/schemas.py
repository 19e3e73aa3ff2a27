"""Request and response bodies of the account routes (they also make /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Literal

import email_validator
from pydantic import AfterValidator, Field

from quart_template.schema import Message, RequestModel


def _valid_email(value: str) -> str:
    """Syntax only (no DNS); `.test` addresses are allowed for local and CI use."""
    value = value.strip()
    try:
        email_validator.validate_email(value, check_deliverability=False, test_environment=True)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return value


Email = Annotated[str, Field(max_length=320), AfterValidator(_valid_email)]
Name = Annotated[str | None, Field(default=None, max_length=120)]
# Long enough for any policy-conforming password; the policy gives the precise answer.
Password = Annotated[str, Field(max_length=1024)]


class SignupRequest(RequestModel):
    login_method: Literal["signup"] = "signup"
    first_name: Name = None
    last_name: Name = None
    email: Email
    password: Password


class EmailRequest(RequestModel):
    email: Email


class ResetPasswordRequest(RequestModel):
    password: Password


class UpdatePasswordRequest(RequestModel):
    existing_password: Password
    new_password: Password


__all__ = [
    "EmailRequest",
    "Message",
    "ResetPasswordRequest",
    "SignupRequest",
    "UpdatePasswordRequest",
]
