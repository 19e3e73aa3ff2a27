"""The HTTP edge every views module shares: who the client is, the rate-limit mark, and how a
view answers. With the auth decorators (`sessions.auth`), the only code that reads `request`
or `g`; services get what they need from here as arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel
from quart import Response, g, jsonify, request

from quart_template.errors import APIError
from quart_template.ratelimit import FAILURE_RECORDED
from quart_template.request_meta import ClientInfo, resolve_client_ip
from quart_template.runtime import runtime

P = ParamSpec("P")
R = TypeVar("R")

RATE_LIMITED_ATTR = "__rate_limited__"
REFUSALS = frozenset({400, 401, 403})  # what a failed credential check answers
USER_AGENT_MAX = 255

# Answers carrying a token, an OTP secret, a QR code or recovery codes must not be kept by
# browsers or proxies.
NO_STORE = {"Cache-Control": "no-store"}


def client_info() -> ClientInfo:
    """The client of this request (built once per request)."""
    found: ClientInfo | None = g.get("client_info")
    if found is None:
        forwarded = request.headers.getlist("X-Forwarded-For")
        ip = resolve_client_ip(request.remote_addr, forwarded, runtime().settings.trusted_proxies)
        agent = request.headers.get("User-Agent")
        found = g.client_info = ClientInfo(
            ip=ip, user_agent=agent[:USER_AGENT_MAX] if agent else None
        )
    return found


def bearer_credential() -> str | None:
    """The credential of an `Authorization: Bearer <credential>` header, or None."""
    scheme, _, credential = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


def reply(
    body: dict[str, Any] | BaseModel, status: int = 200, *, no_store: bool = False
) -> Response:
    """Every view's answer. A response model's top-level fields that are None are left out
    (they do not apply to this answer); a plain dict is sent as it is, because quart-schema's
    generic conversion costs more than the rest of a token check on the hot routes."""
    if isinstance(body, BaseModel):
        dumped = body.model_dump(mode="json")
        body = {name: value for name, value in dumped.items() if value is not None}
    response = jsonify(body)
    response.status_code = status
    if no_store:
        response.headers.update(NO_STORE)
    return response


def rate_limited(
    scope: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Mark a credential-checking (or email-sending) view; the route walk in the tests looks
    for the mark. Refuses a client IP already over its limit before the view runs, and counts
    a 400/401/403 the view did not record itself (a bad emailed token, say) against the IP,
    so marking a route is enough to limit it."""

    def decorate(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(view)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            limiter, ip = runtime().limiter, client_info().ip
            await limiter.guard_credentials(ip, account=None, scope=scope)
            recorded = FAILURE_RECORDED.set(False)
            try:
                return await view(*args, **kwargs)
            except APIError as error:
                if (
                    error.status in REFUSALS
                    and error.credential_failure
                    and not FAILURE_RECORDED.get()
                ):
                    await limiter.record_failure(ip, account=None, scope=scope)
                raise
            finally:
                FAILURE_RECORDED.reset(recorded)

        setattr(guarded, RATE_LIMITED_ATTR, scope)
        return guarded

    return decorate


def rate_limit_scope(view: Any) -> str | None:
    """The scope a view was marked with, or None."""
    scope = getattr(view, RATE_LIMITED_ATTR, None)
    return scope if isinstance(scope, str) else None
