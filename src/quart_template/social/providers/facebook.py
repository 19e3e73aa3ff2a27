"""Facebook: the body is never trusted. `debug_token`, asked with our app token, must say the
token is valid, issued to our app, for the userID sent; email and names come from `/me`."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx

from quart_template.errors import Unauthorized
from quart_template.settings import Settings
from quart_template.social.providers.base import (
    Identity,
    call,
    json_body,
    not_configured,
    optional_text,
    provider_deadline,
    required_text,
)
from quart_template.social.schemas import FacebookSignIn

TITLE = "Facebook"
REFUSED = "Facebook did not vouch for this access token."
ME_FIELDS = "id,name,email,first_name,last_name"


async def exchange(
    payload: FacebookSignIn, *, http: httpx.AsyncClient, settings: Settings
) -> Identity:
    """The Facebook account an access token belongs to, as Facebook itself says."""
    app_id, app_secret = settings.facebook_client_id, settings.facebook_client_secret
    if not app_id or not app_secret:
        raise not_configured(TITLE)
    async with provider_deadline(TITLE, settings.provider_timeout):
        debug = await _debug_token(payload, http=http, settings=settings)
        me = await _me(payload.accessToken, app_secret, http=http, settings=settings)
    if required_text(me, "id", title=TITLE) != payload.userID:
        raise Unauthorized(REFUSED)
    return _identity(payload, debug, me, settings=settings)


async def _debug_token(
    payload: FacebookSignIn, *, http: httpx.AsyncClient, settings: Settings
) -> dict[str, Any]:
    response = await call(
        http,
        "GET",
        f"{settings.facebook_graph_url}/debug_token",
        title=TITLE,
        seconds=settings.provider_timeout,
        params={
            "input_token": payload.accessToken,
            "access_token": f"{settings.facebook_client_id}|{settings.facebook_client_secret}",
        },
    )
    data = json_body(response, title=TITLE, refused=REFUSED).get("data")
    if not isinstance(data, dict):
        raise Unauthorized(REFUSED)
    if (
        data.get("is_valid") is not True
        or str(data.get("app_id")) != settings.facebook_client_id
        or str(data.get("user_id")) != payload.userID
    ):
        raise Unauthorized(REFUSED)
    return data


async def _me(
    access_token: str, app_secret: str, *, http: httpx.AsyncClient, settings: Settings
) -> dict[str, Any]:
    # appsecret_proof ties the call to our app: a token stolen from another app is useless here.
    proof = hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
    response = await call(
        http,
        "GET",
        f"{settings.facebook_graph_url}/me",
        title=TITLE,
        seconds=settings.provider_timeout,
        params={"fields": ME_FIELDS, "access_token": access_token, "appsecret_proof": proof},
    )
    return json_body(response, title=TITLE, refused=REFUSED)


def _identity(
    payload: FacebookSignIn, debug: dict[str, Any], me: dict[str, Any], *, settings: Settings
) -> Identity:
    email = optional_text(me, "email")
    scopes = debug.get("scopes")
    scope = ",".join(str(s) for s in scopes) if isinstance(scopes, list) else payload.grantedScopes
    data_access = debug.get("data_access_expires_at") or payload.data_access_expiration_time
    return Identity(
        provider="facebook",
        provider_user_id=payload.userID,
        email=email,
        # Facebook does not promise the address was confirmed (FACEBOOK_EMAIL_VERIFIED).
        email_verified=email is not None and settings.facebook_email_verified,
        first_name=optional_text(me, "first_name"),
        last_name=optional_text(me, "last_name"),
        user_name=optional_text(me, "name"),
        auth={
            "access_token": payload.accessToken,
            "data_access_expiration_time": data_access,
            "email": email,
            "expires_in": payload.expiresIn,
            "name": "facebook",
            "scope": scope,
            "user_name": optional_text(me, "name"),
        },
    )
