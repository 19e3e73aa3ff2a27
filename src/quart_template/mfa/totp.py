"""TOTP (RFC 6238 via pyotp): 6 digits, 30-second steps, one step of clock drift either way.

pyotp's `verify()` answers only "valid or not", which would accept the same code again within
its window. `matched_step` answers *which* time step matched, so the caller can store it and
refuse any step not newer than the last accepted one: every code works once.
"""

from __future__ import annotations

import base64
import hmac
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pyotp
import segno

DIGITS = 6
INTERVAL = 30
DRIFT_STEPS = 1

# The time source; tests replace it to move between time steps without sleeping.
clock: Callable[[], float] = time.time


def now() -> datetime:
    """The time on the TOTP clock, as an aware UTC datetime."""
    return datetime.fromtimestamp(clock(), UTC)


def new_secret() -> str:
    """A fresh 160-bit base32 secret (what authenticator apps expect)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, email: str, issuer: str) -> str:
    """The `otpauth://totp/...` URI an authenticator app scans."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=email, issuer_name=issuer
    )


def matched_step(
    secret: str, code: str, *, last_step: int | None, now: float | None = None
) -> int | None:
    """The time step `code` belongs to (now, or one step either side), if it is newer than
    `last_step`; None otherwise. Every candidate is compared, in constant time."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    current = int((clock() if now is None else now) // INTERVAL)
    found: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def is_code_of_step(secret: str, code: str, step: int) -> bool:
    """Whether `code` is the code of that one time step (constant-time comparison)."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    return hmac.compare_digest(totp.generate_otp(step), code)


def qr_png_base64(uri: str) -> str:
    """The URI as a QR code: a PNG, base64-encoded (CPU work: call it in a thread)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=5, border=4)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
