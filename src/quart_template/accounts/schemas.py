"""Request and response bodies of the account routes (they also make /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Literal

import email_validator
from pydantic import AfterValidator, Field

from quart_template.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from quart_template.schema import Message, RequestModel


def _valid_email(value: str) -> str:
    """Syntax only (no DNS); `.test` addresses are allowed for local and CI use."""
    value = value.strip()
    try:
        email_validator.validate_email(value, check_deliverability=False, test_environment=True)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return value


Email = Annotated[
    str, Field(max_length=320, json_schema_extra={"format": "email"}), AfterValidator(_valid_email)
]
Name = Annotated[str, Field(max_length=120)]
# Long enough for any policy-conforming password; the policy gives the precise answer.
Password = Annotated[str, Field(max_length=1024)]
# A password being set: the policy (accounts.passwords) counts 8 to 128 characters after NFKC
# normalisation, and refuses common ones and the email; the document says the lengths.
NewPassword = Annotated[
    str,
    Field(
        max_length=1024,
        description="8 to 128 characters (counted after NFKC normalisation); not a common "
        "password, not the email address",
        json_schema_extra={"minLength": MIN_PASSWORD_LENGTH, "maxLength": MAX_PASSWORD_LENGTH},
    ),
]


class SignupRequest(RequestModel):
    login_method: Literal["signup"] = "signup"
    first_name: Name
    last_name: Name
    email: Email
    password: NewPassword


class EmailRequest(RequestModel):
    email: Email


class ResetPasswordRequest(RequestModel):
    password: NewPassword


class UpdatePasswordRequest(RequestModel):
    existing_password: Password
    new_password: NewPassword


__all__ = [
    "EmailRequest",
    "Message",
    "ResetPasswordRequest",
    "SignupRequest",
    "UpdatePasswordRequest",
]
