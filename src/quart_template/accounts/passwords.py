"""Password hashing: argon2id, always off the event loop.

STATUS: core in place (hash/verify with argon2id, rehash detection). The accounts work adds
legacy werkzeug hashes (pbkdf2:/scrypt:), NFKC normalisation and the policy checks here.
"""

from __future__ import annotations

import asyncio
import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from quart_template.settings import Settings

_hashers: dict[tuple[int, int, int], PasswordHasher] = {}


def hasher(settings: Settings) -> PasswordHasher:
    key = (settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism)
    if key not in _hashers:
        _hashers[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2])
    return _hashers[key]


async def hash_password(password: str, *, settings: Settings) -> str:
    """An argon2id hash of the password, computed in a worker thread."""
    return await asyncio.to_thread(hasher(settings).hash, password)


async def verify_password(
    stored_hash: str | None, password: str, *, settings: Settings
) -> tuple[bool, str | None]:
    """(matches, new hash to store or None). A missing hash still costs one verification, so
    timing does not tell whether the account exists."""
    return await asyncio.to_thread(_verify_sync, stored_hash, password, settings)


_DUMMY: dict[tuple[int, int, int], str] = {}


def _dummy_hash(settings: Settings) -> str:
    h = hasher(settings)
    key = (h.time_cost, h.memory_cost, h.parallelism)
    if key not in _DUMMY:
        _DUMMY[key] = h.hash("dummy password for timing")
    return _DUMMY[key]


def _verify_sync(
    stored_hash: str | None, password: str, settings: Settings
) -> tuple[bool, str | None]:
    h = hasher(settings)
    if not stored_hash:
        with contextlib.suppress(VerificationError):
            h.verify(_dummy_hash(settings), password)
        return False, None
    try:
        h.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, (h.hash(password) if h.check_needs_rehash(stored_hash) else None)
