"""The credential checks of MFA: a TOTP code against the stored secret (each time step once,
for every purpose), and the password of a signed-in person re-authenticating."""

from __future__ import annotations

import logging
from datetime import timedelta

from quart_template.accounts.passwords import verify_password
from quart_template.errors import Forbidden
from quart_template.mfa import repository, totp
from quart_template.mfa.crypto import DecryptionError, decrypt_text
from quart_template.mfa.models import OtpMethod
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record_alone
from quart_template.sessions.caller import PersonSummary
from quart_template.settings import Settings

log = logging.getLogger(__name__)

OTP_SCOPE = "mfa"
PASSWORD_SCOPE = "reauth"

WRONG_PASSWORD = "Incorrect password."

# How long the code that confirmed set-up may still turn MFA on (the one reuse allowed).
CONFIRM_GRACE = timedelta(minutes=2)


def secret_context(entity_id: str) -> str:
    """Bound into the ciphertext: a secret copied to another row does not decrypt."""
    return f"otp_method:{entity_id}"


def otp_secret(method: OtpMethod, *, settings: Settings) -> str:
    """The method's secret, decrypted (the column must have been loaded)."""
    return decrypt_text(
        method.secret_encrypted,
        key=settings.encryption_key,
        context=secret_context(method.entity_id),
    )


def _readable_secret(method: OtpMethod, settings: Settings) -> str | None:
    """The secret, or None when it cannot be decrypted (then no code can match)."""
    try:
        return otp_secret(method, settings=settings)
    except DecryptionError:
        # A changed DATA_ENCRYPTION_KEY (or SECRET_KEY it derives from): no code can match;
        # recovery codes (matched by hash) still let the person in.
        log.error(
            "OTP secret cannot be decrypted: was DATA_ENCRYPTION_KEY changed?",
            extra={"event": "otp_secret_unreadable", "person_id": method.person_id},
        )
        return None


def accept_code(method: OtpMethod, otp: str, *, settings: Settings, by: str) -> int | None:
    """The accepted time step of `otp`, spent for every purpose: it must be newer than the last
    one accepted (at sign-in, set-up, turning MFA off, re-authenticating) and is stored, so a
    code seen once (a shoulder, a phishing page, a log) never works again anywhere."""
    secret = _readable_secret(method, settings)
    if secret is None:
        return None
    step = totp.matched_step(secret, otp, last_step=method.last_step)
    if step is not None:
        method.last_step = step
        method.changed_by_id = by
    return step


def remember_confirmation(method: OtpMethod, step: int) -> None:
    """Set-up was confirmed with `step`: that code may turn MFA on once, shortly after."""
    method.confirm_step = step
    method.confirmed_at = totp.now()


def forget_confirmation(method: OtpMethod) -> None:
    """The allowance is over (used, or MFA is on)."""
    method.confirm_step = None
    method.confirmed_at = None


def accept_confirming_code(method: OtpMethod, otp: str, *, settings: Settings) -> bool:
    """The one exception to single use, for Flask Template's front end, which sends the code
    that confirmed set-up at /verify_otp again to turn MFA on: it works for that only, once,
    within CONFIRM_GRACE of the confirmation."""
    if method.confirm_step is None or method.confirmed_at is None:
        return False
    if totp.now() - method.confirmed_at > CONFIRM_GRACE:
        return False
    secret = _readable_secret(method, settings)
    if secret is None or not totp.is_code_of_step(secret, otp, method.confirm_step):
        return False
    forget_confirmation(method)
    return True


async def check_password(
    rt: Runtime, *, person: PersonSummary, password: str, client: ClientInfo
) -> None:
    """403 unless `password` is the person's (re-authentication; argon2 off the loop)."""
    await rt.limiter.guard_credentials(client.ip, account=person.email, scope=PASSWORD_SCOPE)
    async with rt.db() as db, db.begin():
        stored = await repository.password_hash_of(db, person_id=person.entity_id)
    ok, _ = await verify_password(stored, password, settings=rt.settings)
    if not ok:
        await rt.limiter.record_failure(client.ip, account=person.email, scope=PASSWORD_SCOPE)
        await record_alone(
            rt, "reauth_failed", person_id=person.entity_id, client=client, scope=PASSWORD_SCOPE
        )
        raise Forbidden(WRONG_PASSWORD)
