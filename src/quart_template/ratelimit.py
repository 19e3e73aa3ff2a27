"""Brute-force limits on credential checks, per account and per client IP.

Callers use these functions (scope separates the counters: "login", "mfa", "recovery", ...):

    await guard_credentials(account=email, scope="login")   # 429 + Retry-After when over a limit
    ok = ...check the password / OTP / recovery code...
    if not ok:
        await record_credential_failure(account=email, scope="login")

    await guard_email_sending(email, scope="forgot_password")   # every call counts; 429 over

and mark every credential-checking view with `@rate_limited(scope)`; a test walks the routes.
The mark also refuses an over-limit client IP before the view runs, and counts a 400/401/403
the view raised without recording a failure itself (e.g. a bad emailed token) against the IP.
Counters live in Redis when REDIS_URL is set (shared by every instance), else in this process.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from quart import g

from quart_template.errors import APIError, TooManyRequests
from quart_template.request_meta import client_ip
from quart_template.runtime import Runtime, runtime
from quart_template.settings import Settings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

RATE_LIMITED_ATTR = "__rate_limited__"
REFUSALS = frozenset({400, 401, 403})  # what a failed credential check answers
_RECORDED = "credential_failure_recorded"
EXTRAS_KEY = "rate_limiter"
EMAIL_SCOPE = "email"
DEFAULT_KEY_PREFIX = "quart_template"
REDIS_RETRY_SECONDS = 30.0
REDIS_TIMEOUT_SECONDS = 1.0


def redis_storage_url(url: str) -> str:
    """limits' async scheme for a plain redis:// or rediss:// URL."""
    return url if url.startswith("async+") else f"async+{url}"


class CredentialLimiter:
    """Moving-window counters; falls back to memory (with a warning) while Redis is down."""

    def __init__(self, settings: Settings, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self.per_account = parse(settings.login_limit_per_account)
        self.per_ip = parse(settings.login_limit_per_ip)
        self.per_address = parse(settings.email_limit_per_address)
        self.emails_per_ip = parse(settings.email_limit_per_ip)
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._redis_storage: RedisStorage | None = None
        self._redis: MovingWindowRateLimiter | None = None
        self._redis_retry_at = 0.0
        if settings.redis_url:
            try:
                self._redis_storage = RedisStorage(
                    redis_storage_url(settings.redis_url),
                    wrap_exceptions=True,
                    key_prefix=key_prefix,
                    connect_timeout=REDIS_TIMEOUT_SECONDS,
                    stream_timeout=REDIS_TIMEOUT_SECONDS,
                )
                self._redis = MovingWindowRateLimiter(self._redis_storage)
            except Exception as exc:
                log.warning(
                    "REDIS_URL unusable; rate limits count in memory",
                    extra={"event": "ratelimit_store_fallback", "error": type(exc).__name__},
                )

    @property
    def shared(self) -> bool:
        """Whether counters currently go to Redis."""
        return self._redis is not None and time.monotonic() >= self._redis_retry_at

    async def _run(self, op: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        if self._redis is not None and self.shared:
            try:
                return await op(self._redis)
            except Exception as exc:
                self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
                log.warning(
                    "rate-limit store unreachable; counting in memory",
                    extra={"event": "ratelimit_store_fallback", "error": type(exc).__name__},
                )
        return await op(self._memory)

    async def retry_after(self, item: RateLimitItem, *key: str) -> int | None:
        """Seconds until the next attempt is allowed; None when one is allowed now."""

        async def op(limiter: MovingWindowRateLimiter) -> int | None:
            if await limiter.test(item, *key):
                return None
            stats = await limiter.get_window_stats(item, *key)
            return max(1, math.ceil(stats.reset_time - time.time()))

        return await self._run(op)

    async def hit(self, item: RateLimitItem, *key: str) -> bool:
        """Count one attempt; False when the limit was already reached."""
        return await self._run(lambda limiter: limiter.hit(item, *key))

    async def aclose(self) -> None:
        """Drop the Redis connections (memory counters die with the object)."""
        client = getattr(getattr(self._redis_storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()


def rate_limiter(rt: Runtime | None = None) -> CredentialLimiter:
    """The app's limiter, created on first use (so every app gets fresh counters)."""
    rt = rt or runtime()
    limiter = rt.extras.get(EXTRAS_KEY)
    if limiter is None:
        limiter = rt.extras[EXTRAS_KEY] = CredentialLimiter(rt.settings)
    assert isinstance(limiter, CredentialLimiter)
    return limiter


async def close_rate_limiter(rt: Runtime) -> None:
    """Called at shutdown."""
    limiter = rt.extras.pop(EXTRAS_KEY, None)
    if isinstance(limiter, CredentialLimiter):
        await limiter.aclose()


def _account_key(account: str) -> str:
    return account.strip().lower()


def _keys(
    limiter: CredentialLimiter, scope: str, account: str | None, account_item: RateLimitItem
) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    keys: list[tuple[RateLimitItem, tuple[str, ...]]] = [
        (limiter.per_ip, (scope, "ip", client_ip()))
    ]
    if account:
        keys.insert(0, (account_item, (scope, "account", _account_key(account))))
    return keys


async def _refuse_if_over(keys: list[tuple[RateLimitItem, tuple[str, ...]]], scope: str) -> None:
    limiter = rate_limiter()
    waits = [await limiter.retry_after(item, *key) for item, key in keys]
    blocked = [wait for wait in waits if wait is not None]
    if blocked:
        log.info("rate limited", extra={"event": "rate_limited", "scope": scope})
        raise TooManyRequests(max(blocked))


async def guard_credentials(*, account: str | None, scope: str = "login") -> None:
    """Raise TooManyRequests when the account or the client IP is over its failure limit."""
    limiter = rate_limiter()
    await _refuse_if_over(_keys(limiter, scope, account, limiter.per_account), scope)


async def record_credential_failure(*, account: str | None, scope: str = "login") -> None:
    """Count one failed credential check against the account and the client IP."""
    limiter = rate_limiter()
    g.setdefault(_RECORDED, True)
    for item, key in _keys(limiter, scope, account, limiter.per_account):
        await limiter.hit(item, *key)


async def guard_email_sending(email: str, *, scope: str) -> None:
    """Count one email-sending request per address (each scope, e.g. forgot or resend, has its
    own budget) and per client IP (one budget for all addresses); 429 over either."""
    limiter = rate_limiter()
    keys: list[tuple[RateLimitItem, tuple[str, ...]]] = [
        (limiter.per_address, (scope, "account", _account_key(email))),
        (limiter.emails_per_ip, (EMAIL_SCOPE, "sending-ip", client_ip())),
    ]
    await _refuse_if_over(keys, scope)
    for item, key in keys:
        await limiter.hit(item, *key)


async def may_notify(email: str, *, scope: str = "notice") -> bool:
    """Whether one more unsolicited notice (e.g. "someone signed up with your address") may go
    to this address: the same per-address budget as forgot/resend, but over it the notice is
    dropped silently, so the caller's answer reveals nothing and the owner is not flooded."""
    limiter = rate_limiter()
    return await limiter.hit(limiter.per_address, scope, "address", _account_key(email))


def rate_limited(
    scope: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Mark a credential-checking view (the route-walking test looks for the mark) and refuse
    a client IP already over its limit before the view runs."""

    def decorate(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(view)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            await guard_credentials(account=None, scope=scope)
            try:
                return await view(*args, **kwargs)
            except APIError as error:
                # A refusal the view did not count itself (a bad emailed token, say) still
                # counts against the client IP, so marking a route is enough to limit it.
                if error.status in REFUSALS and not g.get(_RECORDED, False):
                    await record_credential_failure(account=None, scope=scope)
                raise

        setattr(guarded, RATE_LIMITED_ATTR, scope)
        return guarded

    return decorate


def rate_limit_scope(view: Any) -> str | None:
    """The scope a view was marked with, or None."""
    scope = getattr(view, RATE_LIMITED_ATTR, None)
    return scope if isinstance(scope, str) else None
