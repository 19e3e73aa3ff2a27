"""Reading signed tokens (access tokens, `mfa_token`s, email links). A genuine signature says
who made a token, not that its payload is well-formed: a token made with the right key but an
undecodable payload or an impossible timestamp is refused like a forged one, never a crash."""

from __future__ import annotations

import re

from itsdangerous import BadData, URLSafeTimedSerializer

# What `secrets.token_hex(32)` makes: the random ids access and MFA tokens carry.
_RANDOM_ID = re.compile(r"[0-9a-f]{64}")


def read_signed(serializer: URLSafeTimedSerializer, token: str, *, max_age: int) -> object:
    """The payload of a genuine, unexpired token, or None: forged, expired, a payload that is
    not the serializer's JSON (BadPayload), or a timestamp out of the clock's range (itsdangerous
    raises OverflowError/ValueError/OSError building the date of a far-future signature)."""
    try:
        payload: object = serializer.loads(token, max_age=max_age)
    except (BadData, OverflowError, ValueError, OSError):
        return None
    return payload


def random_id(payload: object) -> str | None:
    """The payload when it is one of our random ids; None for any other value or shape (a
    number, a list, a string with characters that cannot even be hashed)."""
    if isinstance(payload, str) and _RANDOM_ID.fullmatch(payload):
        return payload
    return None
