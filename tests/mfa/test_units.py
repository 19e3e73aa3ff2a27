"""The building blocks: AES-GCM at rest, TOTP steps, recovery-code form, OTP body form."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pyotp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel

from quart_template.mfa import totp
from quart_template.mfa.checks import (
    accept_code,
    accept_confirming_code,
    remember_confirmation,
    secret_context,
)
from quart_template.mfa.crypto import DataKey, DecryptionError, decrypt_text, encrypt_text, key_id
from quart_template.mfa.models import OtpMethod
from quart_template.mfa.recovery_codes import hash_code, new_code, normalise_code
from quart_template.mfa.schemas import OtpCode
from quart_template.settings import Settings
from tests.support.mfa import freeze_totp_clock

KEY = bytes(range(32))


# Made by the code before key ids and HKDF (the key was SHA-256 of "data-encryption:" +
# SECRET_KEY, or of DATA_ENCRYPTION_KEY): stored values like these must keep opening.
V1_OTP_SECRET = "v1:W2eONYBskmd43kLdMNMoeqk2E5FVUVdK6EPQjcmZ34iq4dacG0sTAkbvWXA="
V1_RECOVERY_CODE = (
    "v1:WNF2MImk5ksFm+kOdo2z/8eqDZbBYYLJ/AiS9NGIErCHXJ+SZBtBZqKiov+IC706nbc9XBmxYip7hb/r"
)


def test_encryption_round_trip_random_nonce_and_key_id_prefix() -> None:
    first = encrypt_text("JBSWY3DPEHPK3PXP", key=KEY, context="otp_method:a")
    second = encrypt_text("JBSWY3DPEHPK3PXP", key=KEY, context="otp_method:a")
    assert first.startswith(f"v2:{key_id(KEY)}:") and first != second
    assert decrypt_text(first, key=KEY, context="otp_method:a") == "JBSWY3DPEHPK3PXP"
    assert len(key_id(KEY)) == 8 and key_id(KEY) != key_id(bytes(32))


def test_the_data_key_is_hkdf_sha256_of_the_material_with_a_purpose_label(
    make_settings: Callable[..., Settings],
) -> None:
    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"quart-template data-encryption v2"
    ).derive(b"test-secret-key-0123456789")
    settings = make_settings(secret_key="test-secret-key-0123456789", data_encryption_key=None)
    assert settings.encryption_key == expected
    assert settings.encryption_key != hashlib.sha256(b"test-secret-key-0123456789").digest()
    assert make_settings(data_encryption_key="another").encryption_key != expected
    assert "DataKey(id=" in repr(settings.encryption_key)
    assert expected.hex() not in repr(settings.encryption_key)


def test_values_sealed_by_the_earlier_derivation_still_open(
    make_settings: Callable[..., Settings],
) -> None:
    by_secret = make_settings(secret_key="test-secret-key-0123456789", data_encryption_key=None)
    assert (
        decrypt_text(V1_OTP_SECRET, key=by_secret.encryption_key, context="otp_method:0123abcd")
        == "JBSWY3DPEHPK3PXP"
    )
    by_key = make_settings(data_encryption_key="an operator-chosen data key")
    opened = decrypt_text(V1_RECOVERY_CODE, key=by_key.encryption_key, context="recovery_code:feed")
    assert opened == "0123456789ABCDEF0123456789ABCDEF"
    with pytest.raises(DecryptionError):  # still bound to its row
        decrypt_text(V1_OTP_SECRET, key=by_secret.encryption_key, context="otp_method:other")
    with pytest.raises(DecryptionError):  # and to its key
        decrypt_text(V1_OTP_SECRET, key=by_key.encryption_key, context="otp_method:0123abcd")


def test_the_key_id_picks_the_key_so_a_rotation_keeps_old_values() -> None:
    old, new = bytes(range(32)), bytes(range(1, 33))
    sealed = encrypt_text("secret", key=old, context="c")
    with pytest.raises(DecryptionError, match="another key"):
        decrypt_text(sealed, key=new, context="c")
    rotated = DataKey(new, retired=[old])
    assert decrypt_text(sealed, key=rotated, context="c") == "secret"
    assert encrypt_text("secret", key=rotated, context="c").startswith(f"v2:{key_id(new)}:")


@pytest.mark.parametrize(
    ("key", "context", "mangle"),
    [
        (bytes(32), "otp_method:a", lambda t: t),  # another key
        (KEY, "otp_method:b", lambda t: t),  # copied to another row
        (KEY, "otp_method:a", lambda t: t[:-4] + ("AAAA" if t[-4:] != "AAAA" else "BBBB")),
        (KEY, "otp_method:a", lambda t: "v9" + t[2:]),  # unknown scheme
        (KEY, "otp_method:a", lambda t: f"v2:{key_id(KEY)}:not base64!"),
        (KEY, "otp_method:a", lambda t: "v1" + t[2:]),  # the header is authenticated too
        (KEY, "otp_method:a", lambda t: "v1:" + t.split(":", 2)[2]),
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
    ("given", "read"),
    [
        ("012345", "012345"),
        (12345, "012345"),
        (999999, "999999"),
        (0, "000000"),
        # An integral JSON number is an integer to JSON Schema, so to /openapi.json (fuzzed).
        (123456.0, "123456"),
        (1.0, "000001"),
        (" 654321\n", "654321"),
    ],
)
def test_otp_in_bodies(given: object, read: str) -> None:
    assert _Body(otp=given).otp == read  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "given", ["12345", "1234567", "12 456", 1_000_000, -5, True, 1.5, 1e6, None, "\u2003123456"]
)
def test_otp_in_bodies_refused(given: object) -> None:
    with pytest.raises(ValueError):
        _Body(otp=given)  # type: ignore[arg-type]
