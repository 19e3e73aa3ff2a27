"""Google: the ID token is verified here, never trusted: RS256 signature by a key of Google's
JWKS, our client id as audience, Google as issuer, not expired, and the client's nonce when it
sends one."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from quart_template.errors import Unauthorized
from quart_template.settings import Settings
from quart_template.social.providers.base import (
    Identity,
    not_configured,
    optional_text,
    provider_deadline,
    truthy,
)
from quart_template.social.providers.jwks import cache_for
from quart_template.social.schemas import GoogleSignIn

TITLE = "Google"
ISSUERS = ("accounts.google.com", "https://accounts.google.com")
INVALID = "The Google ID token is not valid."
# Clock skew we forgive between Google and us.
LEEWAY_SECONDS = 30


async def exchange(
    payload: GoogleSignIn, *, http: httpx.AsyncClient, settings: Settings
) -> Identity:
    """The Google account an ID token proves."""
    if not settings.google_client_id:
        raise not_configured(TITLE)
    kid = _signing_kid(payload.idtoken)
    async with provider_deadline(TITLE, settings.provider_timeout):
        key = await cache_for(http, settings.google_certs_url).key_for(
            kid, http=http, seconds=settings.provider_timeout
        )
    if key is None:
        raise Unauthorized(INVALID)
    claims = _verified_claims(payload.idtoken, key.key, audience=settings.google_client_id)
    # The nonce binds the token to the sign-in the front end started: a token minted for
    # another sign-in (replayed, or injected into this one) carries another nonce, or none.
    if payload.nonce is not None and claims.get("nonce") != payload.nonce:
        raise Unauthorized(INVALID)
    return _identity(payload.idtoken, claims)


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
