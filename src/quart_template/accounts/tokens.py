"""Email-verification and password-reset links: signed, purpose-bound, short-lived tokens.

Each purpose signs with its own salt, so a verification token is never a reset token. A reset
token carries a fingerprint of the password hash it was issued against: once the password
changed, the fingerprint no longer matches and the link is dead (single use).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

from itsdangerous import URLSafeTimedSerializer

from quart_template.accounts.models import Person, normalise_email
from quart_template.settings import Settings
from quart_template.signing import read_signed

VERIFY = "email-verification"
RESET = "password-reset"

_ENTITY_ID = re.compile(r"[0-9a-f]{32}")
_FINGERPRINT = re.compile(r"[0-9a-f]{32}")


def encode_uid(entity_id: str) -> str:
    """`uidb64`: unpadded urlsafe base64 of the 32-character hex entity id."""
    return base64.urlsafe_b64encode(entity_id.encode()).rstrip(b"=").decode()


def decode_uid(uidb64: str) -> str | None:
    """The entity id in a `uidb64`, or None when it is not one."""
    if len(uidb64) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(uidb64 + "=" * (-len(uidb64) % 4))
        entity_id = raw.decode("ascii")
    except (binascii.Error, ValueError):
        return None
    return entity_id if _ENTITY_ID.fullmatch(entity_id) else None


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        settings.secret_key, salt=f"{settings.security_password_salt}:{purpose}"
    )


def password_fingerprint(person: Person, settings: Settings) -> str:
    """A keyed digest of the current password hash (or of its absence): it changes with it."""
    material = (person.password_hash or "").encode()
    return hmac.new(settings.secret_key.encode(), material, hashlib.sha256).hexdigest()[:32]


def make_verification_token(person: Person, settings: Settings) -> str:
    """Binds the person and the address being confirmed."""
    payload = {"p": person.entity_id, "e": normalise_email(person.email)}
    return _serializer(settings, VERIFY).dumps(payload)


def make_reset_token(person: Person, settings: Settings) -> str:
    """Binds the person and the password they have now (needs `password_hash` loaded)."""
    payload = {"p": person.entity_id, "f": password_fingerprint(person, settings)}
    return _serializer(settings, RESET).dumps(payload)


def read_link(
    token: str, uidb64: str, *, purpose: str, settings: Settings
) -> dict[str, Any] | None:
    """The payload of a link's token when it is genuine, unexpired, of this purpose and for the
    person `uidb64` names; None otherwise (tampered, expired, swapped)."""
    entity_id = decode_uid(uidb64)
    max_age = settings.verify_token_expire if purpose == VERIFY else settings.reset_token_expire
    if entity_id is None or len(token) > 512:
        return None
    payload = read_signed(_serializer(settings, purpose), token, max_age=max_age)
    if not isinstance(payload, dict) or payload.get("p") != entity_id:
        return None
    return payload if _well_formed(payload, purpose) else None


def _well_formed(payload: dict[str, Any], purpose: str) -> bool:
    """The field each purpose compares is what we put there: a text for the address, the hex
    fingerprint for a reset (other values could not even be compared in constant time)."""
    if purpose == VERIFY:
        return isinstance(payload.get("e"), str)
    fingerprint = payload.get("f")
    return isinstance(fingerprint, str) and _FINGERPRINT.fullmatch(fingerprint) is not None


def verification_link(person: Person, settings: Settings) -> str:
    """The Vue route that confirms an address: always on FRONTEND_URL, never the Host header."""
    token = make_verification_token(person, settings)
    return f"{_base(settings)}/session/login/{token}/{encode_uid(person.entity_id)}"


def reset_link(person: Person, settings: Settings) -> str:
    """The Vue route that sets a new password."""
    token = make_reset_token(person, settings)
    return f"{_base(settings)}/session/reset-password/{token}/{encode_uid(person.entity_id)}"


def login_link(settings: Settings) -> str:
    """Where an owner told about a repeated sign-up can sign in (or ask for a reset)."""
    return f"{_base(settings)}/session/login"


def _base(settings: Settings) -> str:
    return settings.frontend_url.rstrip("/")
