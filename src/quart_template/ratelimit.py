"""Brute-force limits on credential checks: per account and client IP, per account from all
addresses, and per client IP.

The app's `CredentialLimiter` (`rt.limiter`) is called by the services with the client's
address they were given (scope separates the counters: "login", "mfa", "recovery", ...):

    await limiter.guard_credentials(client.ip, account=email, scope="login")  # 429 when over
    ok = ...check the password / OTP / recovery code...
    if not ok:
        await limiter.record_failure(client.ip, account=email, scope="login")
    # a completed sign-in (every factor) or a password reset:
    await limiter.clear(email)

    # every call counts:
    await limiter.guard_email_sending(client.ip, email, scope="forgot_password")

Counting per account *and* client IP means a stranger's guesses lock the stranger out, not
the owner at their own address; the per-account count from all addresses is the ceiling a
distributed guesser meets. A clear starts the account's counters of every scope and every
address again (a new generation of keys: the old counters are simply never read again), so
the owner's sign-in or reset lifts a lock wherever it was set; per-IP counters stay.

Nothing here reads a request: the HTTP mark `web.rate_limited` refuses an over-limit client IP
before a view runs and counts a refusal the view did not record itself (see `FAILURE_RECORDED`).
Counters live in Redis when REDIS_URL is set (shared by every instance), else in this process.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from quart_template.errors import TooManyRequests
from quart_template.metrics import RATE_LIMITED
from quart_template.ratelimit_store import PrimaryWatch, close_storage, redis_storage
from quart_template.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[RateLimitItem, tuple[str, ...]]

EMAIL_SCOPE = "email"
SIGNUP_SCOPE = "signup"
PASSKEY_OPTIONS_SCOPE = "passkey_options"
FLOW_SCOPE = "social_authorize"
DEFAULT_KEY_PREFIX = "quart_template"
REDIS_RETRY_SECONDS = 30.0
# An account's generation lives this long after its first clear: longer than any account
# window, so when it expires (and reads zero again) the counters from before that clear are
# dead. The counters of the last generation go with it, at most once a day per account.
GENERATION_MIN_SECONDS = 24 * 3600
GENERATION_BUMP_BITS = 48

# Set when a failure was recorded in the current task (a request runs in one task), so the HTTP
# mark does not count the same refusal against the client IP twice.
FAILURE_RECORDED: ContextVar[bool] = ContextVar("credential_failure_recorded", default=False)


class CredentialLimiter:
    """Moving-window counters and the rules that use them; falls back to memory (with a
    warning) while Redis is down."""

    def __init__(self, settings: Settings, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self.per_account = parse(settings.login_limit_per_account)
        self.per_account_all_ips = parse(settings.login_limit_per_account_all_ips)
        self.per_ip = parse(settings.login_limit_per_ip)
        self.per_address = parse(settings.email_limit_per_address)
        self.emails_per_ip = parse(settings.email_limit_per_ip)
        self.signups_per_ip = parse(settings.signup_limit_per_ip)
        self.passkey_options_per_ip = parse(settings.passkey_options_limit_per_ip)
        self.flow_starts_per_ip = parse(settings.social_authorize_limit_per_ip)
        self._generation_seconds = max(
            GENERATION_MIN_SECONDS,
            2 * self.per_account.get_expiry(),
            2 * self.per_account_all_ips.get_expiry(),
        )
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._redis_storage: RedisStorage | None = None
        self._redis: MovingWindowRateLimiter | None = None
        self._primary = PrimaryWatch(None)
        self._redis_retry_at = 0.0
        self._redis_down = False  # the last try failed: warned once, say when it is back
        if settings.redis_url:
            try:
                self._redis_storage = redis_storage(settings.redis_url, key_prefix=key_prefix)
                self._primary = PrimaryWatch(self._redis_storage)
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
        """`op` on Redis; on this process's memory while Redis is out of reach (tried again
        every REDIS_RETRY_SECONDS). One warning per outage, one line when Redis is back."""
        if self._redis is not None and self.shared:
            try:
                result = await self._on_redis(self._redis, op)
            except Exception as exc:
                self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
                if not self._redis_down:
                    log.warning(
                        "rate-limit store unreachable; counting in memory until it is back",
                        extra={"event": "ratelimit_store_fallback", "error": type(exc).__name__},
                    )
                self._redis_down = True
            else:
                if self._redis_down:
                    log.info(
                        "rate-limit store reachable again; counting in Redis",
                        extra={"event": "ratelimit_store_back"},
                    )
                self._redis_down = False
                return result
        return await op(self._memory)

    async def _on_redis(
        self, redis: MovingWindowRateLimiter, op: Callable[[MovingWindowRateLimiter], Awaitable[T]]
    ) -> T:
        """`op` on Redis; when it fails while Redis was up, once more on a fresh connection: a
        pooled one may have died, or (Sentinel) still lead to a primary that became a replica,
        which redis-py notices only by dropping that connection."""
        await self._primary.follow()
        try:
            return await op(redis)
        except Exception:
            if self._redis_down:
                raise
            return await op(redis)

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

    async def guard_credentials(self, ip: str, *, account: str | None, scope: str) -> None:
        """429 when the account at this address, the account from all addresses, or the
        client IP is over its failure limit."""
        await self._refuse_if_over(await self._failure_keys(ip, account, scope), scope)

    async def record_failure(self, ip: str, *, account: str | None, scope: str) -> None:
        """Count one failed credential check against each of those counters."""
        FAILURE_RECORDED.set(True)
        for item, key in await self._failure_keys(ip, account, scope):
            await self.hit(item, *key)

    async def clear(self, account: str) -> None:
        """A completed sign-in or a password reset: the account's failure counters of every
        scope and address start again (the per-IP counters stay). The generation grows by a
        random step, so a generation that expired and counts again from zero never meets an
        old number whose counters may still be alive."""
        key = _generation_key(_account_key(account))
        step = secrets.randbits(GENERATION_BUMP_BITS) + 1
        await self._run(
            lambda limiter: limiter.storage.incr(key, self._generation_seconds, amount=step)
        )

    async def guard_email_sending(self, ip: str, email: str, *, scope: str) -> None:
        """Count one email-sending request per address (each scope, e.g. forgot or resend, has
        its own budget) and per client IP (one budget for all addresses); 429 over either."""
        await self._count_or_refuse(
            [
                (self.per_address, (scope, "account", _account_key(email))),
                (self.emails_per_ip, (EMAIL_SCOPE, "sending-ip", ip)),
            ],
            scope,
        )

    async def guard_signup(self, ip: str) -> None:
        """Count one sign-up attempt of the client IP; 429 over SIGNUP_LIMIT_PER_IP."""
        await self._count_or_refuse([(self.signups_per_ip, (SIGNUP_SCOPE, "ip", ip))], SIGNUP_SCOPE)

    async def guard_passkey_options(self, ip: str) -> None:
        """Count one passkey options request of the client IP (each stores a challenge, also
        for nobody signed in); 429 over PASSKEY_OPTIONS_LIMIT_PER_IP."""
        keys: list[Key] = [(self.passkey_options_per_ip, (PASSKEY_OPTIONS_SCOPE, "ip", ip))]
        await self._count_or_refuse(keys, PASSKEY_OPTIONS_SCOPE)

    async def guard_flow_start(self, ip: str) -> None:
        """Count one social sign-in started by the client IP (each keeps a row for a day);
        429 over SOCIAL_AUTHORIZE_LIMIT_PER_IP."""
        keys: list[Key] = [(self.flow_starts_per_ip, (FLOW_SCOPE, "ip", ip))]
        await self._count_or_refuse(keys, FLOW_SCOPE)

    async def may_notify(self, email: str, *, scope: str = "notice") -> bool:
        """Whether one more unsolicited notice (e.g. "someone signed up with your address") may
        go to this address: the same per-address budget as forgot/resend, but over it the
        notice is dropped silently, so the caller's answer reveals nothing and the owner is
        not flooded."""
        return await self.hit(self.per_address, scope, "address", _account_key(email))

    async def _failure_keys(self, ip: str, account: str | None, scope: str) -> list[Key]:
        """The counters a credential check of `account` from `ip` meets; the account comes
        last in each key, so an address containing "/" cannot pose as another key."""
        keys: list[Key] = [(self.per_ip, (scope, "ip", ip))]
        if account:
            name = _account_key(account)
            key = _generation_key(name)
            generation = str(await self._run(lambda limiter: limiter.storage.get(key)))
            keys[:0] = [
                (self.per_account, (scope, "account-ip", ip, generation, name)),
                (self.per_account_all_ips, (scope, "account", generation, name)),
            ]
        return keys

    async def _refuse_if_over(self, keys: list[Key], scope: str) -> None:
        waits = [await self.retry_after(item, *key) for item, key in keys]
        blocked = [wait for wait in waits if wait is not None]
        if blocked:
            RATE_LIMITED.labels(scope).inc()
            log.info(  # a security event without a known person: the log line only
                "security event: rate_limited",
                extra={"event": "rate_limited", "security_event": True, "scope": scope},
            )
            raise TooManyRequests(max(blocked))

    async def _count_or_refuse(self, keys: list[Key], scope: str) -> None:
        await self._refuse_if_over(keys, scope)
        for item, key in keys:
            await self.hit(item, *key)

    async def aclose(self) -> None:
        """Drop the Redis connections (memory counters die with the object)."""
        if self._redis_storage is not None:
            await close_storage(self._redis_storage)


def _account_key(account: str) -> str:
    return account.strip().lower()


def _generation_key(account_key: str) -> str:
    return f"{DEFAULT_KEY_PREFIX}/failure-generation/{account_key}"
