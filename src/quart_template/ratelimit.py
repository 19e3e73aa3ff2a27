"""Brute-force limits on credential checks, per account and per client IP.

STATUS: interface only (no limiting yet); the accounts work implements it with `limits`
(in-memory, or Redis when REDIS_URL is set). Callers use exactly these two functions:

    await guard_credentials(account=email)          # 429 + Retry-After when over a limit
    ok = ...check the password / OTP / recovery code...
    if not ok:
        await record_credential_failure(account=email)
"""

from __future__ import annotations


async def guard_credentials(*, account: str | None, scope: str = "login") -> None:
    """Raise TooManyRequests when the account or the client IP is over its failure limit."""


async def record_credential_failure(*, account: str | None, scope: str = "login") -> None:
    """Count one failed credential check against the account and the client IP."""
