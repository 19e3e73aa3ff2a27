"""The building blocks: AES-GCM at rest, TOTP steps, recovery-code form, OTP body form."""

from __future__ import annotations

import pyotp
import pytest
from pydantic import BaseModel

from quart_template.mfa import totp
from quart_template.mfa.checks import (
    accept_code,
    accept_confirming_code,
    remember_confirmation,
    secret_context,
)
from quart_template.mfa.crypto import DecryptionError, decrypt_text, encrypt_text
from quart_template.mfa.models import OtpMethod
from quart_template.mfa.recovery_codes import hash_code, new_code, normalise_code
from quart_template.mfa.schemas import OtpCode
from quart_template.settings import Settings
from tests.support.mfa import freeze_totp_clock

KEY = bytes(range(32))


def test_encryption_round_trip_random_nonce_and_version_prefix() -> None:
    first = encrypt_text("JBSWY3DPEHPK3PXP", key=KEY, context="otp_method:a")
    second = encrypt_text("JBSWY3DPEHPK3PXP", key=KEY, context="otp_method:a")
    assert first.startswith("v1:") and first != second
    assert decrypt_text(first, key=KEY, context="otp_method:a") == "JBSWY3DPEHPK3PXP"


@pytest.mark.parametrize(
    ("key", "context", "mangle"),
    [
        (bytes(32), "otp_method:a", lambda t: t),  # another key
        (KEY, "otp_method:b", lambda t: t),  # copied to another row
        (KEY, "otp_method:a", lambda t: t[:-4] + ("AAAA" if t[-4:] != "AAAA" else "BBBB")),
        (KEY, "otp_method:a", lambda t: "v9" + t[2:]),  # unknown scheme
        (KEY, "otp_method:a", lambda t: "v1:not base64!"),
    ],
)
def test_decryption_refuses_anything_else(key: bytes, context: str, mangle: object) -> None:
    token = encrypt_text("secret", key=KEY, context="otp_method:a")
    with pytest.raises(DecryptionError):
        decrypt_text(mangle(token), key=key, context=context)  # type: ignore[operator]


def test_matched_step_allows_one_step_of_drift_and_each_step_once() -> None:
    secret = pyotp.random_base32()
    app = pyotp.TOTP(secret)
    now = 1_700_000_015.0
    step = int(now // 30)
    assert totp.matched_step(secret, app.at(now), last_step=None, now=now) == step
    assert totp.matched_step(secret, app.at(now - 30), last_step=None, now=now) == step - 1
    assert totp.matched_step(secret, app.at(now + 30), last_step=None, now=now) == step + 1
    assert totp.matched_step(secret, app.at(now - 60), last_step=None, now=now) is None
    assert totp.matched_step(secret, app.at(now + 60), last_step=None, now=now) is None
    assert totp.matched_step(secret, app.at(now), last_step=step, now=now) is None
    assert totp.matched_step(secret, app.at(now - 30), last_step=step, now=now) is None
    assert totp.matched_step(secret, app.at(now + 30), last_step=step, now=now) == step + 1


def test_the_confirming_code_is_allowed_once_more_and_only_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = freeze_totp_clock(monkeypatch)
    secret = pyotp.random_base32()
    method = OtpMethod(
        entity_id="a" * 32,
        person_id="b" * 32,
        secret_encrypted=encrypt_text(
            secret, key=settings.encryption_key, context=secret_context("a" * 32)
        ),
    )
    code = pyotp.TOTP(secret).at(clock.now)
    step = accept_code(method, code, settings=settings, by="b" * 32)
    assert step is not None and method.last_step == step
    remember_confirmation(method, step)
    assert accept_code(method, code, settings=settings, by="b" * 32) is None  # spent
    other = pyotp.TOTP(secret).at(clock.now + 30)
    assert not accept_confirming_code(method, other, settings=settings)  # not that step
    assert accept_confirming_code(method, code, settings=settings)
    assert not accept_confirming_code(method, code, settings=settings)  # a second time


def test_recovery_codes_form() -> None:
    code = new_code()
    assert len(code) == 32 and code == code.upper() and int(code, 16) >= 0
    assert normalise_code(code.lower()) == code
    assert normalise_code(f" {code[:16]}-{code[16:]} ") == code
    assert normalise_code(code[:-1]) is None and normalise_code("Z" * 32) is None
    assert hash_code(code) != code and len(hash_code(code)) == 64


class _Body(BaseModel):
    otp: OtpCode


@pytest.mark.parametrize(
    ("given", "read"), [("012345", "012345"), (12345, "012345"), (999999, "999999"), (0, "000000")]
)
def test_otp_in_bodies(given: object, read: str) -> None:
    assert _Body(otp=given).otp == read  # type: ignore[arg-type]


@pytest.mark.parametrize("given", ["12345", "1234567", "12 456", 1_000_000, -5, True, 1.0, None])
def test_otp_in_bodies_refused(given: object) -> None:
    with pytest.raises(ValueError):
        _Body(otp=given)  # type: ignore[arg-type]
