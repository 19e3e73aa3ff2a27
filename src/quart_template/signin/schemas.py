"""Request bodies of the sign-in routes (they also make /openapi.json)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from quart_template.accounts.schemas import Password
from quart_template.mfa.schemas import OtpCode
from quart_template.schema import RequestModel

Email = Annotated[str, Field(min_length=1, max_length=320)]
MfaToken = Annotated[str, Field(min_length=1, max_length=512)]


class LoginRequest(RequestModel):
    # Not syntax-checked: an address that cannot exist fails like any unknown one (401).
    email: Annotated[str, Field(max_length=320)]
    password: Password


class SecondFactorRequest(RequestModel):
    """`mfa_token` from /login (then `email` is optional and must match), or a legacy `email`
    right after a password or social step. Neither: 401, a code alone signs nobody in."""

    mfa_token: MfaToken | None = None
    email: Email | None = None


class LoginMfaRequest(SecondFactorRequest):
    otp: OtpCode


class RecoveryLoginRequest(SecondFactorRequest):
    recovery_code: Annotated[str, Field(min_length=1, max_length=64)]
