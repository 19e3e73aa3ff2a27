"""Google: the ID token is verified here, never trusted: RS256 signature by a key of Google's
JWKS, our client id as audience, Google as issuer, not expired, and the client's nonce when it
sends one. The ID token comes from Google Sign-In in the front end, or (the server-driven flow)
from Google's token endpoint for a code, with the PKCE verifier; its nonce must then be the one
the flow asked for."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from quart_template.errors import Unauthorized
from quart_template.settings import Settings
from quart_template.social.providers.base import (
    CodeFlow,
    Flow,
    Identity,
    client_credentials,
    code_for_token,
    not_configured,
    optional_text,
    provider_deadline,
    required_text,
    truthy,
)
from quart_template.social.providers.jwks import cache_for
from quart_template.social.schemas import GoogleSignIn

TITLE = "Google"
ISSUERS = ("accounts.google.com", "https://accounts.google.com")
INVALID = "The Google ID token is not valid."
REFUSED = "Google did not accept the code."
# Clock skew we forgive between Google and us.
LEEWAY_SECONDS = 30


def code_credentials(settings: Settings) -> tuple[str, str]:
    """Our web client at Google, with its secret (the code flow needs both); 501 without."""
    return client_credentials(TITLE, settings.google_client_id, settings.google_client_secret)


CODE_FLOW = CodeFlow(
    title=TITLE,
    scope="openid email profile",
    endpoint=lambda settings: settings.google_authorize_url,
    client_id=lambda settings: code_credentials(settings)[0],
    nonce=True,
)


async def exchange(
    payload: GoogleSignIn,
    *,
    http: httpx.AsyncClient,
    settings: Settings,
    flow: Flow | None = None,
) -> Identity:
    """The Google account an ID token proves (the front end's, or the one a code is worth)."""
    if not settings.google_client_id:
        raise not_configured(TITLE)
    async with provider_deadline(TITLE, settings.provider_timeout):
        if payload.code is not None:
            if flow is None or flow.nonce is None:
                raise Unauthorized(REFUSED)  # never: a code only gets here with its flow
            idtoken, nonce = await _id_token_for(payload.code, flow, http=http, settings=settings)
        else:
            assert payload.idtoken is not None  # the schema: an idtoken or a code
            idtoken, nonce = payload.idtoken, payload.nonce
        kid = _signing_kid(idtoken)
        key = await cache_for(http, settings.google_certs_url).key_for(
            kid, http=http, seconds=settings.provider_timeout
        )
    if key is None:
        raise Unauthorized(INVALID)
    claims = _verified_claims(idtoken, key.key, audience=settings.google_client_id)
    # The nonce binds the token to the sign-in that was started: a token minted for another
    # sign-in (replayed, or injected into this one) carries another nonce, or none.
    if nonce is not None and claims.get("nonce") != nonce:
        raise Unauthorized(INVALID)
    return _identity(idtoken, claims)


async def _id_token_for(
    code: str, flow: Flow, *, http: httpx.AsyncClient, settings: Settings
) -> tuple[str, str | None]:
    """The ID token Google's token endpoint gives for the code, and the nonce it must carry."""
    client_id, secret = code_credentials(settings)
    token = await code_for_token(
        http,
        settings.google_token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.redirect_uri,
            "client_id": client_id,
            "client_secret": secret,
            "code_verifier": flow.code_verifier,
        },
        title=TITLE,
        refused=REFUSED,
        seconds=settings.provider_timeout,
    )
    return required_text(token, "id_token", title=TITLE), flow.nonce


def _signing_kid(token: str) -> str:
    """The header's key id; only RS256 tokens go further (no `none`, no HS256 with our key)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized(INVALID) from None
    kid = header.get("kid")
    if header.get("alg") != "RS256" or not isinstance(kid, str) or not kid:
        raise Unauthorized(INVALID)
    return kid


def _verified_claims(token: str, key: Any, *, audience: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            audience=audience,
            issuer=ISSUERS,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError:
        raise Unauthorized(INVALID) from None
    return claims


def _identity(token: str, claims: dict[str, Any]) -> Identity:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized(INVALID)
    email = optional_text(claims, "email")
    return Identity(
        provider="google",
        provider_user_id=sub,
        email=email,
        email_verified=email is not None and truthy(claims.get("email_verified")),
        first_name=optional_text(claims, "given_name"),
        last_name=optional_text(claims, "family_name"),
        user_name=optional_text(claims, "name"),
        auth={"access_token": token, "expires_in": claims.get("exp"), "name": "google", "sub": sub},
    )
