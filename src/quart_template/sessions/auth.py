"""The Authorization header: `Basic <token>` as Flask Template sent it, or `Bearer <token>`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from quart import g, request
from quart_schema.openapi import QUART_SCHEMA_SECURITY_ATTRIBUTE

from quart_template.db import reader
from quart_template.errors import Unauthorized
from quart_template.runtime import runtime
from quart_template.sessions.caller import Caller
from quart_template.sessions.check import check_token
from quart_template.sessions.proof import require_recent_proof

P = ParamSpec("P")
R = TypeVar("R")

INVALID_TOKEN = "Invalid or expired access token."
MISSING_TOKEN = "Authentication required."
MAX_TOKEN_LENGTH = 512


def token_from_header(header: str | None) -> str | None:
    """The token in the header; None when absent. A malformed header raises 401."""
    if header is None or not header.strip():
        return None
    parts = header.strip().split()
    if len(parts) != 2 or parts[0].lower() not in ("basic", "bearer"):
        raise Unauthorized(INVALID_TOKEN)
    token = parts[1]
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise Unauthorized(INVALID_TOKEN)
    return token


async def resolve_caller() -> Caller | None:
    """The caller from the Authorization header; None when there is none, 401 when it is bad."""
    token = token_from_header(request.headers.get("Authorization"))
    if token is None:
        return None
    caller = await check_token(runtime(), token)
    if caller is None:
        raise Unauthorized(INVALID_TOKEN)
    g.caller = caller
    return caller


def current_caller() -> Caller:
    """The authenticated caller of this request (inside `login_required` views)."""
    caller: Caller = g.caller
    return caller


def login_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """401 unless a valid, unrevoked token comes with the request."""

    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if await resolve_caller() is None:
            raise Unauthorized(MISSING_TOKEN)
        return await view(*args, **kwargs)

    _mark(wrapper, "required")
    return wrapper


def recent_auth_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """`login_required`, and the session's holder proved a credential within REAUTH_MAX_AGE
    (403 with `reauth_required` otherwise): for factor changes that carry no credential."""

    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        caller = await resolve_caller()
        if caller is None:
            raise Unauthorized(MISSING_TOKEN)
        rt = runtime()
        async with rt.db(bind=reader(rt.engine)) as db:
            await require_recent_proof(
                db, session_id=caller.session.entity_id, settings=rt.settings
            )
        return await view(*args, **kwargs)

    _mark(wrapper, "required")
    wrapper.needs_recent_proof = True  # type: ignore[attr-defined]  # 403 in /openapi.json
    return wrapper


def login_optional(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """No header: anonymous (`g.caller` is None). A bad header is still 401."""

    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        g.caller = await resolve_caller()
        return await view(*args, **kwargs)

    _mark(wrapper, "optional")
    return wrapper


def optional_caller() -> Caller | None:
    caller: Caller | None = g.get("caller")
    return caller


# What /openapi.json says of a route: the token is required, or optional ({} = none at all).
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "required": [{"token": []}],
    "optional": [{"token": []}, {}],
}


def _mark(func: Any, mode: str) -> None:
    func.auth_mode = mode
    setattr(func, QUART_SCHEMA_SECURITY_ATTRIBUTE, SECURITY[mode])
