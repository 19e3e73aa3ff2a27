"""Request and response bodies of the social endpoints, as Flask Template's front ends send
them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from quart_template.schema import RequestModel, ResponseModel, present

TOKEN_MAX = 8192
NONCE_MAX = 512
URI_MAX = 2048

Code = Annotated[str, Field(min_length=1, max_length=2048)]
# The `state` of `GET /social/<provider>/authorize`, as the provider sent it back.
State = Annotated[str, Field(min_length=1, max_length=512)]


def _absent(*names: str) -> dict[str, Any]:
    """The JSON Schema of "these fields are not sent (or null)"."""
    return {"properties": {name: {"type": "null"} for name in names}}


class CodeSignIn(RequestModel):
    """GitHub and LinkedIn: the OAuth authorization code the front end received, and the
    `state` that came with it when the sign-in started at `/social/<provider>/authorize`."""

    code: Code
    state: State | None = None


class GoogleSignIn(RequestModel):
    """Google: the ID token from Google Sign-In, and the nonce the front end asked Google to
    put in it (when sent, the token's `nonce` claim must equal it); or the code and `state` of
    a sign-in started at `/social/google/authorize`."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"allOf": [present("idtoken"), _absent("code", "state")]},
                {"allOf": [present("code"), _absent("idtoken", "nonce")]},
            ]
        }
    )

    idtoken: str | None = Field(None, min_length=1, max_length=TOKEN_MAX)
    nonce: str | None = Field(None, min_length=1, max_length=NONCE_MAX)
    code: Code | None = None
    state: State | None = None

    @model_validator(mode="after")
    def _one_way(self) -> GoogleSignIn:
        if self.code is None:
            one_way = self.idtoken is not None and self.state is None
        else:
            one_way = self.idtoken is None and self.nonce is None
        if not one_way:
            raise ValueError("send idtoken (and nonce), or code and state")
        return self


# What the JS SDK's `authResponse` (and Flask Template's front end) send; none goes with a code.
SDK_FIELDS = (
    "accessToken",
    "userID",
    "expiresIn",
    "data_access_expiration_time",
    "grantedScopes",
    "graphDomain",
    "reauthorize_required_in",
    "signedRequest",
    "email",
    "name",
    "id",
    "picture",
)


class FacebookSignIn(RequestModel):
    """Facebook: the JS SDK's `authResponse` (plus the profile Flask Template's front end adds).
    Only `accessToken` and `userID` matter, and only once Facebook confirmed them; the email
    and name sent here are ignored (they come from `/me`). Or the code and `state` of a
    sign-in started at `/social/facebook/authorize`."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "allOf": [
                        present("accessToken"),
                        present("userID"),
                        _absent("code", "state"),
                    ]
                },
                {"allOf": [present("code"), _absent(*SDK_FIELDS)]},
            ]
        }
    )

    accessToken: str | None = Field(None, min_length=1, max_length=TOKEN_MAX)
    userID: str | None = Field(None, min_length=1, max_length=64)
    code: Code | None = None
    state: State | None = None
    expiresIn: int | None = None
    data_access_expiration_time: int | None = None
    grantedScopes: str | None = Field(None, max_length=2048)
    graphDomain: str | None = Field(None, max_length=64)
    reauthorize_required_in: int | None = None
    signedRequest: str | None = Field(None, max_length=TOKEN_MAX)
    email: str | None = Field(None, max_length=320)
    name: str | None = Field(None, max_length=255)
    id: str | None = Field(None, max_length=64)
    picture: dict[str, Any] | str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> FacebookSignIn:
        if self.code is None:
            one_way = None not in (self.accessToken, self.userID) and self.state is None
        else:
            one_way = all(getattr(self, name) is None for name in SDK_FIELDS)
        if not one_way:
            raise ValueError("send accessToken and userID (the SDK's), or code and state")
        return self


class AuthorizeQuery(RequestModel):
    """Where the provider sends the person back with the code: one of SOCIAL_REDIRECT_URIS."""

    redirect_uri: str = Field(
        min_length=1, max_length=URI_MAX, json_schema_extra={"required": True}
    )


class FlowStarted(ResponseModel):
    """Send the person to `url`; keep `state` to compare with the one the provider sends back,
    then post the code with it."""

    success: bool = True
    url: str
    state: str


class ProviderProfile(ResponseModel):
    access_token: str | None
    email: str | None
    entity_id: str
    expires_in: int | None
    name: str
    refresh_token: str | None
    refresh_token_expires_in: int | None
    scope: str | None
    token_type: str | None
    user_name: str | None


class LoginMethodOut(ResponseModel):
    profile: ProviderProfile
    provider: str


class LoginMethods(ResponseModel):
    login_methods: list[LoginMethodOut]
    success: bool = True
