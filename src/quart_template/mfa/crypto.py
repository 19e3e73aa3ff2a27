"""Secrets at rest (OTP secrets, recovery-code copies, pending email payloads): AES-256-GCM, so
a database dump alone reveals nothing.

Text form `v2:<key id>:<base64(nonce || ciphertext+tag)>`: the key id (a fingerprint that
reveals nothing of the key) names the key that sealed the value, so a key can be rotated while
values sealed under the one before still open. Values written before key ids existed
(`v1:<base64>`, sealed with the key itself) still open with the key they were made with.

The data key is derived from the configured material with HKDF-SHA256 and a purpose label
(`data_key`); the `key=` of `encrypt_text`/`decrypt_text` is that key, or any 32 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v2"
LEGACY_VERSION = "v1"  # no key id: sealed with the key itself
NONCE_BYTES = 12  # 96-bit random nonce, the size GCM is built for
KEY_BYTES = 32
PURPOSE = b"quart-template data-encryption v2"
KEY_ID_LABEL = b"quart-template key id"


class DecryptionError(Exception):
    """A stored value that this key cannot open (tampered, wrong key or wrong context)."""


class DataKey(bytes):
    """A data key (it is the 32 bytes `key=` takes) that also holds the keys it replaced, so
    values sealed under those still open after a rotation. Its repr never shows the bytes."""

    retired: tuple[bytes, ...]

    def __new__(cls, key: bytes, *, retired: Iterable[bytes] = ()) -> DataKey:
        made = super().__new__(cls, key)
        made.retired = tuple(retired)
        return made

    def __repr__(self) -> str:
        return f"DataKey(id={key_id(self)})"


def data_key(material: str, *, retired: Iterable[bytes] = ()) -> DataKey:
    """The AES-256 key for `material` (DATA_ENCRYPTION_KEY, or SECRET_KEY when that is unset),
    by HKDF-SHA256 with this service's purpose label: a key for this use and no other."""
    derived = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=PURPOSE)
    return DataKey(derived.derive(material.encode()), retired=retired)


def legacy_key(source: str) -> bytes:
    """The key values sealed before HKDF were made with (SHA-256 of the source), kept so
    those values still open."""
    return hashlib.sha256(source.encode()).digest()


def key_id(key: bytes) -> str:
    """A short public name of a key: stored with each value, it tells which key opens it."""
    return hmac.new(key, KEY_ID_LABEL, hashlib.sha256).hexdigest()[:8]


def encrypt_text(plaintext: str, *, key: bytes, context: str) -> str:
    """Encrypt; `context` (e.g. the owning row) is authenticated, so a copied value fails."""
    kid = key_id(key)
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), _associated(kid, context))
    return f"{VERSION}:{kid}:{base64.b64encode(nonce + sealed).decode('ascii')}"


def decrypt_text(token: str, *, key: bytes, context: str) -> str:
    """Decrypt a value made by `encrypt_text` with this key (or one it replaced) and context."""
    keys = [key, *getattr(key, "retired", ())]
    version, _, rest = token.partition(":")
    if version == VERSION:
        kid, _, body = rest.partition(":")
        matching = [k for k in keys if hmac.compare_digest(key_id(k), kid)]
        if not matching:
            raise DecryptionError("sealed with another key")
        return _open(body, matching, _associated(kid, context))
    if version == LEGACY_VERSION:
        return _open(rest, keys, context.encode())
    raise DecryptionError("unknown encryption scheme")


def _associated(kid: str, context: str) -> bytes:
    """The header is authenticated with the context: a value cannot be relabelled."""
    return f"{VERSION}:{kid}:{context}".encode()


def _open(body: str, keys: list[bytes], associated: bytes) -> str:
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("cannot decrypt") from exc
    for candidate in keys:
        try:
            opened = AESGCM(candidate).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
        except (InvalidTag, ValueError):
            continue
        return opened.decode()
    raise DecryptionError("cannot decrypt")
