"""Request and response bodies of the MFA endpoints (they also make /openapi.json)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from quart_template.schema import RequestModel, ResponseModel, present

_SIX_DIGITS = re.compile(r"[0-9]{6}")
_BLANKS = " \t\r\n"  # JSON's whitespace: what may surround the digits


def _otp(value: Any) -> str:
    """A 6-digit string, or a number zero-padded to 6 digits (Flask Template's front ends send
    123456)."""
    if isinstance(value, bool):
        raise ValueError("the OTP must be 6 digits")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 123456.0 is an integer to JSON Schema, so to /openapi.json
    if isinstance(value, int):
        if not 0 <= value <= 999_999:
            raise ValueError("the OTP must be 6 digits")
        return f"{value:06d}"
    if isinstance(value, str):
        code = value.strip(_BLANKS)
        if _SIX_DIGITS.fullmatch(code):
            return code
    raise ValueError("the OTP must be 6 digits")


OtpCode = Annotated[
    str,
    BeforeValidator(_otp),
    WithJsonSchema(
        {
            "description": "the 6-digit code: a string, or a number (zero-padded)",
            "anyOf": [
                {"type": "string", "pattern": "^[ \t\r\n]*[0-9]{6}[ \t\r\n]*$"},
                {"type": "integer", "minimum": 0, "maximum": 999_999},
            ],
        }
    ),
]
Password = Annotated[str, Field(max_length=1024)]


def _social() -> dict[str, Any]:
    return {"properties": {"login_type": {"const": "social"}}}


def _switch(on: bool) -> dict[str, Any]:
    return {"properties": {"mfa_enabled": {"const": on}}}


class QrCodeRequest(RequestModel):
    """`signup` people prove the password (400 without it, the service's rule, said here too);
    `social` people (who have none) need not."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [present("password"), {"required": ["login_type"], **_social()}]
        }
    )

    password: Password | None = None
    login_type: Literal["signup", "social"] = "signup"


class QrCodeResponse(ResponseModel):
    success: bool = True
    image: str = Field(description="PNG of the QR code, base64")
    uri: str = Field(description="otpauth:// URI for authenticator apps")
    secret: str = Field(description="the TOTP secret (base32), shown until the first code")


class VerifyOtpRequest(RequestModel):
    otp: OtpCode


class OtpVerifiedData(ResponseModel):
    otp_verified: bool = True
    codes: list[str]


class OtpVerifiedResponse(ResponseModel):
    message: str = "OTP verified successfully"
    success: bool = True
    data: OtpVerifiedData


class SetupMfaRequest(RequestModel):
    """Enabling needs `otp`; disabling needs `otp` or `password`."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {**_switch(True), "allOf": [present("otp")]},
                {**_switch(False), "anyOf": [present("otp"), present("password")]},
            ]
        }
    )

    mfa_enabled: bool
    otp: OtpCode | None = None
    password: Password | None = None

    @model_validator(mode="after")
    def _needs_proof(self) -> SetupMfaRequest:
        if self.mfa_enabled and self.otp is None:
            raise ValueError("otp is required to enable MFA")
        if not self.mfa_enabled and self.otp is None and self.password is None:
            raise ValueError("otp or password is required to disable MFA")
        return self


class RecoveryCodesResponse(ResponseModel):
    """Flask Template's `{"data": [codes], "success": true}`; without RECOVERY_CODES_VIEWABLE, GET
    sends `{"success": true, "count": N}` instead."""

    success: bool = True
    data: list[str] | None = None
    count: int | None = None
