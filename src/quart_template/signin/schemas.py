"""Request bodies of the sign-in routes (they also make /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from quart_template.accounts.schemas import Password
from quart_template.mfa.schemas import OtpCode
from quart_template.schema import RequestModel, exactly_one_of

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


Credential = Annotated[
    dict[str, Any],
    Field(
        description="the PublicKeyCredential as JSON (`credential.toJSON()` in a browser): "
        "id, rawId, type, response with base64url fields"
    ),
]


class CredentialRequest(RequestModel):
    """A WebAuthn credential: inside `credential`, or the body itself as `credential.toJSON()`
    gives it (`id`, `rawId`, `type`, `response`, ...)."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("credential", "response"))

    credential: Credential | None = None
    id: Annotated[str, Field(max_length=2048)] | None = None
    rawId: Annotated[str, Field(max_length=2048)] | None = None
    type: Annotated[str, Field(max_length=32)] | None = None
    response: dict[str, Any] | None = None
    authenticatorAttachment: Annotated[str, Field(max_length=32)] | None = None
    clientExtensionResults: dict[str, Any] | None = None  # accepted, not used

    @model_validator(mode="after")
    def _one_form(self) -> CredentialRequest:
        if (self.credential is None) == (self.response is None):
            raise ValueError("send the credential as `credential`, or as the body itself")
        return self

    def webauthn_credential(self) -> dict[str, Any]:
        """The credential as py_webauthn reads it, whichever form it came in."""
        if self.credential is not None:
            return self.credential
        return self.model_dump(include=set(WEBAUTHN_FIELDS), exclude_none=True)


WEBAUTHN_FIELDS = ("id", "rawId", "type", "response", "authenticatorAttachment")


class LoginMfaRequest(SecondFactorRequest):
    """Exactly one second factor: a TOTP code, or an assertion of one of the person's
    passkeys answering `POST /passkeys/login/options {mfa_token}`."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("otp", "passkey"))

    otp: OtpCode | None = None
    passkey: Credential | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> LoginMfaRequest:
        if (self.otp is None) == (self.passkey is None):
            raise ValueError("send exactly one of otp or passkey")
        return self


RecoveryCode = Annotated[str, Field(min_length=1, max_length=64)]


class RecoveryLoginRequest(SecondFactorRequest):
    recovery_code: RecoveryCode


class ReauthenticateRequest(RequestModel):
    """Exactly one credential: the password, a TOTP code or a recovery code (MFA people)."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("password", "otp", "recovery_code"))

    password: Password | None = None
    otp: OtpCode | None = None
    recovery_code: RecoveryCode | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ReauthenticateRequest:
        given = [v for v in (self.password, self.otp, self.recovery_code) if v is not None]
        if len(given) != 1:
            raise ValueError("send exactly one of password, otp or recovery_code")
        return self
