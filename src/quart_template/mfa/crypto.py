"""Secrets at rest (OTP secrets, recovery-code copies): AES-256-GCM, so a database dump alone
reveals nothing. Text form `v1:<base64(nonce || ciphertext+tag)>`; the prefix names the scheme
so a later key or algorithm change can read old rows."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
NONCE_BYTES = 12  # 96-bit random nonce, the size GCM is built for


class DecryptionError(Exception):
    """A stored value that this key cannot open (tampered, wrong key or wrong context)."""


def encrypt_text(plaintext: str, *, key: bytes, context: str) -> str:
    """Encrypt; `context` (e.g. the owning row) is authenticated, so a copied value fails."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{VERSION}:{base64.b64encode(nonce + sealed).decode('ascii')}"


def decrypt_text(token: str, *, key: bytes, context: str) -> str:
    """Decrypt a value made by `encrypt_text` with the same key and context."""
    version, _, body = token.partition(":")
    if version != VERSION:
        raise DecryptionError("unknown encryption scheme")
    try:
        raw = base64.b64decode(body, validate=True)
        opened = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
    except (binascii.Error, InvalidTag, ValueError) as exc:
        raise DecryptionError("cannot decrypt") from exc
    return opened.decode()
