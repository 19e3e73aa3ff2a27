"""Password hashing and policy: argon2id off the event loop, legacy werkzeug hashes upgraded.

Every password is NFKC-normalised first, so the same characters typed on another keyboard
(full-width digits, ligatures) still match. Anything longer than 128 characters is refused
before any hashing: a megabyte "password" must not cost a megabyte of argon2 work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib.resources import files
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from werkzeug.security import check_password_hash

from quart_template.settings import Settings

T = TypeVar("T")
# Below the event loop's priority: a burst of logins uses the spare CPU, token checks first.
HASH_THREAD_NICENESS = 10
_pool: ThreadPoolExecutor | None = None


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # per-thread nice: Linux only
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICENESS)


async def _in_hash_pool(func: Callable[..., T], *args: Any) -> T:
    """Run a hash on the hashing threads: one per CPU (more would only queue on the CPUs and
    starve the event loop), at a lower scheduling priority than the loop."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(
            max_workers=os.cpu_count() or 1,
            thread_name_prefix="argon2",
            initializer=_lower_priority,
        )
    return await asyncio.get_running_loop().run_in_executor(_pool, func, *args)


MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
# Werkzeug's formats (Flask Template stored these); any of them is upgraded at the next login.
LEGACY_PREFIXES = ("pbkdf2:", "scrypt:")
# NFKC can shrink a string (combining marks compose), never by this much: longer is refused raw.
_RAW_LENGTH_CAP = MAX_PASSWORD_LENGTH * 8


class PasswordTooLong(ValueError):
    """Raised instead of hashing a password over MAX_PASSWORD_LENGTH characters."""


_hashers: dict[tuple[int, int, int], PasswordHasher] = {}


def hasher(settings: Settings) -> PasswordHasher:
    """The argon2id hasher for the configured parameters (one per parameter set)."""
    key = (settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism)
    if key not in _hashers:
        _hashers[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2])
    return _hashers[key]


def normalise_password(password: str) -> str:
    """NFKC form, so visually identical input hashes identically."""
    return unicodedata.normalize("NFKC", password)


def is_too_long(password: str) -> bool:
    """Over 128 characters (after NFKC); cheap, and checked before any hashing."""
    if len(password) > _RAW_LENGTH_CAP:
        return True
    return len(normalise_password(password)) > MAX_PASSWORD_LENGTH


async def hash_password(password: str, *, settings: Settings) -> str:
    """An argon2id hash of the normalised password, computed in a worker thread."""
    if is_too_long(password):
        raise PasswordTooLong(f"password longer than {MAX_PASSWORD_LENGTH} characters")
    return await _in_hash_pool(hasher(settings).hash, normalise_password(password))


async def verify_password(
    stored_hash: str | None, password: str, *, settings: Settings
) -> tuple[bool, str | None]:
    """(matches, new hash to store or None). A missing hash still costs one verification, so
    timing does not tell whether the account exists; an over-long password costs nothing."""
    if is_too_long(password):
        return False, None
    return await _in_hash_pool(_verify_sync, stored_hash, password, settings)


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
    normalised = normalise_password(password)
    if stored_hash and stored_hash.startswith(LEGACY_PREFIXES):
        if _verify_legacy(stored_hash, password, normalised):
            return True, h.hash(normalised)
        return False, None
    if not stored_hash:
        with contextlib.suppress(VerificationError):
            h.verify(_dummy_hash(settings), normalised)
        return False, None
    try:
        h.verify(stored_hash, normalised)
    except (VerifyMismatchError, VerificationError):
        return False, None
    except InvalidHashError:
        with contextlib.suppress(VerificationError):
            h.verify(_dummy_hash(settings), normalised)
        return False, None
    return True, (h.hash(normalised) if h.check_needs_rehash(stored_hash) else None)


def _verify_legacy(stored_hash: str, password: str, normalised: str) -> bool:
    # Flask Template hashed the password as typed: try that form too when NFKC changed it.
    candidates = (normalised,) if normalised == password else (normalised, password)
    try:
        return any(check_password_hash(stored_hash, candidate) for candidate in candidates)
    except (ValueError, TypeError):
        return False


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower-cased), loaded once."""
    text = files("quart_template.accounts").joinpath("common_passwords.txt").read_text("utf-8")
    lines = text.splitlines()
    if lines and lines[0].startswith("#"):
        lines = lines[1:]  # the origin and licence line
    return frozenset(line for line in lines if line)


def check_password_policy(password: str, *, email: str | None) -> str | None:
    """Why this password is refused (a sentence for the user), or None when it is acceptable."""
    if is_too_long(password):
        return f"Password must be at most {MAX_PASSWORD_LENGTH} characters long."
    normalised = normalise_password(password)
    if len(normalised) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters long."
    folded = normalised.casefold()
    if folded in common_passwords() or normalised.lower() in common_passwords():
        return "This password is too common. Please choose a less common one."
    if email:
        address = email.strip().casefold()
        local = address.partition("@")[0]
        if folded in {address, local}:
            return "Password must not be your email address."
    return None
