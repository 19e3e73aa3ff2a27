"""Request and response bodies of the social endpoints, as Flask Template's front ends send
them."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from quart_template.schema import RequestModel, ResponseModel

TOKEN_MAX = 8192
NONCE_MAX = 512


class CodeSignIn(RequestModel):
    """GitHub and LinkedIn: the OAuth authorization code the front end received."""

    code: str = Field(min_length=1, max_length=2048)


class GoogleSignIn(RequestModel):
    """Google: the ID token from Google Sign-In, and the nonce the front end asked Google to
    put in it (when sent, the token's `nonce` claim must equal it)."""

    idtoken: str = Field(min_length=1, max_length=TOKEN_MAX)
    nonce: str | None = Field(None, min_length=1, max_length=NONCE_MAX)


class FacebookSignIn(RequestModel):
    """Facebook: the JS SDK's `authResponse` (plus the profile Flask Template's front end adds).
    Only `accessToken` and `userID` matter, and only once Facebook confirmed them; the email
    and name sent here are ignored (they come from `/me`)."""

    accessToken: str = Field(min_length=1, max_length=TOKEN_MAX)
    userID: str = Field(min_length=1, max_length=64)
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
