"""Who is on the other end of the socket (believing X-Forwarded-For only from trusted proxies).

STATUS: socket peer only; the accounts work adds TRUSTED_PROXIES handling here.
"""

from __future__ import annotations

from quart import request


def client_ip() -> str:
    """The client's IP address."""
    return request.remote_addr or "unknown"


def user_agent() -> str | None:
    value = request.headers.get("User-Agent")
    return value[:255] if value else None
