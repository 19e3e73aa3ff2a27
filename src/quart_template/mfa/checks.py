"""The credential checks of MFA: a TOTP code against the stored secret (each time step once),
and the password of a signed-in person re-authenticating."""

from __future__ import annotations

import logging

from quart_template.accounts.models import Person
from quart_template.accounts.passwords import verify_password
from quart_template.errors import Forbidden
from quart_template.mfa import repository, totp
from quart_template.mfa.crypto import DecryptionError, decrypt_text
from quart_template.mfa.models import OtpMethod
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.settings import Settings

log = logging.getLogger(__name__)

OTP_SCOPE = "mfa"
PASSWORD_SCOPE = "reauth"

WRONG_PASSWORD = "Incorrect password."


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


def accept_code(
    method: OtpMethod, otp: str, *, settings: Settings, by: str, consume: bool = True
) -> int | None:
    """The accepted time step of `otp`. A second factor at sign-in (`consume=True`) must be newer
    than the last one accepted and is stored so it never signs anyone in again. A signed-in
    person confirming a setting (enrolment, turning MFA on or off) only proves they hold the
    secret: their code is checked but not spent, so the same 30-second code that confirmed
    enrolment may still finish the next login (the session already proves the first factor)."""
    try:
        secret = otp_secret(method, settings=settings)
    except DecryptionError:
        # A changed DATA_ENCRYPTION_KEY (or SECRET_KEY it derives from): no code can match;
        # recovery codes (matched by hash) still let the person in.
        log.error(
            "OTP secret cannot be decrypted: was DATA_ENCRYPTION_KEY changed?",
            extra={"event": "otp_secret_unreadable", "person_id": method.person_id},
        )
        return None
    step = totp.matched_step(secret, otp, last_step=method.last_step if consume else None)
    if step is not None and consume:
        method.last_step = step
        method.changed_by_id = by
    return step


async def check_password(rt: Runtime, *, person: Person, password: str, client: ClientInfo) -> None:
    """403 unless `password` is the person's (re-authentication; argon2 off the loop)."""
    await rt.limiter.guard_credentials(client.ip, account=person.email, scope=PASSWORD_SCOPE)
    async with rt.db() as db, db.begin():
        stored = await repository.password_hash_of(db, person_id=person.entity_id)
    ok, _ = await verify_password(stored, password, settings=rt.settings)
    if not ok:
        await rt.limiter.record_failure(client.ip, account=person.email, scope=PASSWORD_SCOPE)
        raise Forbidden(WRONG_PASSWORD)
