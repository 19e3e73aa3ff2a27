"""Facebook: the body is never trusted. `debug_token`, asked with our app token, must say the
token is valid, issued to our app, for the userID sent; email and names come from `/me`.

The server-driven flow gets the access token itself, for a code of Facebook's login dialog
(`state`, no PKCE: Facebook documents `code_challenge` only for its OpenID Connect flow, still
marked as in testing, so the client secret and the redirect URI at the exchange bind the code);
the user is then the one `debug_token` names."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx

from quart_template.errors import Unauthorized
from quart_template.settings import Settings
from quart_template.social.providers.base import (
    CodeFlow,
    Flow,
    Identity,
    call,
    client_credentials,
    json_body,
    optional_text,
    provider_deadline,
    required_text,
)
from quart_template.social.schemas import FacebookSignIn

TITLE = "Facebook"
REFUSED = "Facebook did not vouch for this access token."
CODE_REFUSED = "Facebook did not accept the code."
ME_FIELDS = "id,name,email,first_name,last_name"


def credentials(settings: Settings) -> tuple[str, str]:
    """Our Facebook app; 501 without it."""
    return client_credentials(TITLE, settings.facebook_client_id, settings.facebook_client_secret)


CODE_FLOW = CodeFlow(
    title=TITLE,
    scope="email,public_profile",
    endpoint=lambda settings: settings.facebook_dialog_url,
    client_id=lambda settings: credentials(settings)[0],
    pkce=False,  # state only: see the module docstring
)


async def exchange(
    payload: FacebookSignIn,
    *,
    http: httpx.AsyncClient,
    settings: Settings,
    flow: Flow | None = None,
) -> Identity:
    """The Facebook account an access token belongs to (the SDK's, or the one a code is worth),
    as Facebook itself says."""
    _, app_secret = credentials(settings)
    async with provider_deadline(TITLE, settings.provider_timeout):
        if payload.code is not None:
            if flow is None:
                raise Unauthorized(CODE_REFUSED)  # never: a code only gets here with its flow
            token = await _access_token(payload.code, flow, http=http, settings=settings)
            access_token, user_id = required_text(token, "access_token", title=TITLE), None
            expires_in = token.get("expires_in")
        else:
            assert payload.accessToken is not None  # the schema: an access token or a code
            access_token, user_id, expires_in = payload.accessToken, payload.userID, None
        debug = await _debug_token(access_token, user_id, http=http, settings=settings)
        me = await _me(access_token, app_secret, http=http, settings=settings)
    user_id = str(debug["user_id"])
    if required_text(me, "id", title=TITLE) != user_id:
        raise Unauthorized(REFUSED)
    return _identity(payload, access_token, user_id, debug, me, expires_in, settings=settings)


async def _access_token(
    code: str, flow: Flow, *, http: httpx.AsyncClient, settings: Settings
) -> dict[str, Any]:
    """The token Facebook gives for a code of its login dialog (a GET, as Facebook documents)."""
    app_id, app_secret = credentials(settings)
    response = await call(
        http,
        "GET",
        f"{settings.facebook_graph_url}/oauth/access_token",
        title=TITLE,
        seconds=settings.provider_timeout,
        params={
            "client_id": app_id,
            "client_secret": app_secret,
            "redirect_uri": flow.redirect_uri,
            "code": code,
        },
    )
    body = json_body(response, title=TITLE, refused=CODE_REFUSED)
    if "error" in body:
        raise Unauthorized(CODE_REFUSED)
    return body


async def _debug_token(
    access_token: str, user_id: str | None, *, http: httpx.AsyncClient, settings: Settings
) -> dict[str, Any]:
    """Facebook's word on the token: valid, ours, and (when the client named one) this user's."""
    response = await call(
        http,
        "GET",
        f"{settings.facebook_graph_url}/debug_token",
        title=TITLE,
        seconds=settings.provider_timeout,
        params={
            "input_token": access_token,
            "access_token": f"{settings.facebook_client_id}|{settings.facebook_client_secret}",
        },
    )
    data = json_body(response, title=TITLE, refused=REFUSED).get("data")
    if not isinstance(data, dict):
        raise Unauthorized(REFUSED)
    if (
        data.get("is_valid") is not True
        or str(data.get("app_id")) != settings.facebook_client_id
        or not data.get("user_id")
        or (user_id is not None and str(data.get("user_id")) != user_id)
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
    payload: FacebookSignIn,
    access_token: str,
    user_id: str,
    debug: dict[str, Any],
    me: dict[str, Any],
    expires_in: object,
    *,
    settings: Settings,
) -> Identity:
    email = optional_text(me, "email")
    scopes = debug.get("scopes")
    scope = ",".join(str(s) for s in scopes) if isinstance(scopes, list) else payload.grantedScopes
    data_access = debug.get("data_access_expires_at") or payload.data_access_expiration_time
    return Identity(
        provider="facebook",
        provider_user_id=user_id,
        email=email,
        # Facebook does not promise the address was confirmed (FACEBOOK_EMAIL_VERIFIED).
        email_verified=email is not None and settings.facebook_email_verified,
        first_name=optional_text(me, "first_name"),
        last_name=optional_text(me, "last_name"),
        user_name=optional_text(me, "name"),
        auth={
            "access_token": access_token,
            "data_access_expiration_time": data_access,
            "email": email,
            "expires_in": expires_in if expires_in is not None else payload.expiresIn,
            "name": "facebook",
            "scope": scope,
            "user_name": optional_text(me, "name"),
        },
    )
