"""Request and response bodies of the account routes (they also make /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Literal

import email_validator
from pydantic import AfterValidator, Field

from quart_template.schema import Message, RequestModel, ResponseModel


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


class LoginRequest(RequestModel):
    # Not syntax-checked: an address that cannot exist fails like any unknown one (401).
    email: Annotated[str, Field(max_length=320)]
    password: Password


class EmailRequest(RequestModel):
    email: Email


class ResetPasswordRequest(RequestModel):
    password: Password


class UpdatePasswordRequest(RequestModel):
    existing_password: Password
    new_password: Password


class User(ResponseModel):
    """The seed's user object."""

    access_token: str
    active: bool
    email: str
    entity_id: str
    first_name: str | None
    last_name: str | None
    latest: bool
    login_method: str | None
    verified: bool
    verified_on: int | None
    mfa_enabled: bool
    expires_in: int


class PendingUser(ResponseModel):
    """An MFA person between the first and the second factor: no token."""

    mfa_enabled: bool
    email: str
    verified: bool


class LoginResponse(ResponseModel):
    """A user with a token, or (MFA) a pending user with the `mfa_token` for the second step."""

    success: bool = True
    user: User | PendingUser
    mfa_token: str | None = None


class VerifyResponse(ResponseModel):
    success: bool = True
    message: str
    user: User | PendingUser


__all__ = [
    "EmailRequest",
    "LoginRequest",
    "LoginResponse",
    "Message",
    "ResetPasswordRequest",
    "SignupRequest",
    "UpdatePasswordRequest",
    "User",
    "VerifyResponse",
]
