"""Google's signing keys, fetched once and kept for the Cache-Control max-age; an unknown `kid`
(Google rotated its keys) triggers one early refetch, at most once per MISS_REFETCH_SECONDS, so a
stream of forged `kid`s cannot turn us into a JWKS fetching loop."""

from __future__ import annotations

import asyncio
import re
import time
from weakref import WeakKeyDictionary

import httpx
import jwt

from quart_template.errors import BadGateway
from quart_template.social.providers.base import call, json_body

DEFAULT_MAX_AGE = 300.0
LONGEST_MAX_AGE = 86400.0
MISS_REFETCH_SECONDS = 30.0
TITLE = "Google"


class JwksCache:
    """One JWKS document (one URL) and when it goes stale."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fresh_until = 0.0
        self.last_miss_refetch: float | None = None
        self.fetches = 0
        self._lock = asyncio.Lock()

    async def key_for(
        self, kid: str, *, http: httpx.AsyncClient, seconds: float
    ) -> jwt.PyJWK | None:
        """The key named `kid`, refetching when the cache is stale or (rate-limited) on a miss."""
        async with self._lock:
            now = time.monotonic()
            if now >= self.fresh_until:
                await self._fetch(http, seconds)
            elif kid not in self.keys and self._may_refetch(now):
                self.last_miss_refetch = now
                await self._fetch(http, seconds)
            return self.keys.get(kid)

    def _may_refetch(self, now: float) -> bool:
        last = self.last_miss_refetch
        return last is None or now - last >= MISS_REFETCH_SECONDS

    async def _fetch(self, http: httpx.AsyncClient, seconds: float) -> None:
        response = await call(http, "GET", self.url, title=TITLE, seconds=seconds)
        if response.status_code >= 400:  # our request for public keys: never the user's fault
            raise BadGateway(f"{TITLE} failed to answer, please try again.")
        body = json_body(response, title=TITLE, refused="")
        entries = body.get("keys")
        if not isinstance(entries, list):
            raise BadGateway(f"{TITLE} gave an unexpected answer.")
        self.keys = _rsa_keys(entries)
        self.fresh_until = time.monotonic() + _max_age(response.headers.get("Cache-Control"))
        self.fetches += 1


def _rsa_keys(entries: list[object]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm="RS256")
        except jwt.PyJWTError:
            continue
    return keys


def _max_age(header: str | None) -> float:
    """Seconds the document may be kept: `max-age`, 0 for no-store/no-cache, else a default."""
    if not header:
        return DEFAULT_MAX_AGE
    lowered = header.lower()
    if "no-store" in lowered or "no-cache" in lowered:
        return 0.0
    found = re.search(r"max-age\s*=\s*(\d+)", lowered)
    if not found:
        return DEFAULT_MAX_AGE
    return min(float(found.group(1)), LONGEST_MAX_AGE)


# One cache per HTTP client (that is, per running app), per URL: no state leaks between apps.
_CACHES: WeakKeyDictionary[httpx.AsyncClient, dict[str, JwksCache]] = WeakKeyDictionary()


def cache_for(http: httpx.AsyncClient, url: str) -> JwksCache:
    """The JWKS cache of this app for this URL."""
    per_client = _CACHES.setdefault(http, {})
    if url not in per_client:
        per_client[url] = JwksCache(url)
    return per_client[url]
