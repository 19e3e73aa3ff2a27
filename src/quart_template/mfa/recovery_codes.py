"""Recovery codes: 32 upper-case hex characters as Flask Template made them. Matched by SHA-256
(the codes are random 128-bit values, so a fast hash is enough: nothing to brute-force offline)."""

from __future__ import annotations

import hashlib
import re
import secrets

_SEPARATORS = re.compile(r"[\s-]+")
_CODE = re.compile(r"[0-9A-F]{32}")


def new_code() -> str:
    """A fresh code: 128 random bits as upper-case hex."""
    return secrets.token_hex(16).upper()


def normalise_code(raw: str) -> str | None:
    """The code as stored (any case, spaces and dashes ignored); None if it cannot be one."""
    code = _SEPARATORS.sub("", raw).upper()
    return code if _CODE.fullmatch(code) else None


def hash_code(code: str) -> str:
    """What the database keeps to match a (normalised) code."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()
