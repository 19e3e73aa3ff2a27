"""Request and response bodies of the passkey routes (they also make /openapi.json). The
options are WebAuthn's own JSON forms (`PublicKey.parseCreationOptionsFromJSON()` and
`parseRequestOptionsFromJSON()` in a browser take them as they are; `success` is ignored)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from quart_template.schema import RequestModel, ResponseModel, present
from quart_template.signin.schemas import CredentialRequest, Email, MfaToken

PasskeyName = Annotated[str, Field(max_length=100)]


class RegisterRequest(CredentialRequest):
    """The credential `navigator.credentials.create()` made (as `credential`, or the body
    itself), and a name for it."""

    name: PasskeyName | None = None


class LoginOptionsRequest(RequestModel):
    """`{}` for any passkey the authenticator holds (discoverable credentials); `email` for
    that person's passkeys; `mfa_token` (from /login) for the second factor of that login."""

    model_config = ConfigDict(
        json_schema_extra={"not": {"allOf": [present("email"), present("mfa_token")]}},
    )

    email: Email | None = None
    mfa_token: MfaToken | None = None

    @model_validator(mode="after")
    def _not_both(self) -> LoginOptionsRequest:
        if self.email is not None and self.mfa_token is not None:
            raise ValueError("send email or mfa_token, not both")
        return self


class PasskeyLoginRequest(CredentialRequest):
    """The assertion `navigator.credentials.get()` made (as `credential`, or the body itself)."""


class Descriptor(ResponseModel):
    id: str = Field(description="the credential id, base64url")
    type: Literal["public-key"]
    transports: list[str] | None = None


class CreationOptions(ResponseModel):
    """PublicKeyCredentialCreationOptions (binary fields base64url) for
    `navigator.credentials.create()`."""

    success: bool = True
    rp: dict[str, str]
    user: dict[str, str] = Field(description="id (base64url), name (the email), displayName")
    challenge: str
    pubKeyCredParams: list[dict[str, Any]]
    timeout: int
    excludeCredentials: list[Descriptor]
    authenticatorSelection: dict[str, Any]
    attestation: str
    hints: list[str] | None = None


class RequestOptions(ResponseModel):
    """PublicKeyCredentialRequestOptions (binary fields base64url) for
    `navigator.credentials.get()`."""

    success: bool = True
    challenge: str
    timeout: int
    rpId: str
    allowCredentials: list[Descriptor]
    userVerification: str


class PasskeyItem(ResponseModel):
    id: str
    name: str
    created: int = Field(description="when it was registered (Unix time)")
    last_used: int | None = Field(description="when it last signed in (Unix time)")


class RegisteredPasskey(PasskeyItem):
    success: bool = True


class PasskeyList(ResponseModel):
    success: bool = True
    passkeys: list[PasskeyItem]
