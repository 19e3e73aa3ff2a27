"""Tokens a forger could not make but a bug could: genuinely signed (the real serializer, key
and salt) around a payload the reader does not expect."""

from __future__ import annotations

import json
import zlib

from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.timed import TimestampSigner

# A date no clock can represent: itsdangerous fails building it unless the reader catches it.
FAR_FUTURE = 2**62


class _FarFutureSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return FAR_FUTURE


def undecodable(serializer: URLSafeTimedSerializer) -> dict[str, str]:
    """Signed tokens whose payload is not the serializer's JSON (itsdangerous: BadPayload)."""
    signer = serializer.make_signer(serializer.salt)
    raw = {
        "not base64": b"!!not*base64!!",
        "not JSON": base64_encode(b"{not json"),
        "bad zlib": b"." + base64_encode(b"not zlib data"),
        "compressed non-JSON": b"." + base64_encode(zlib.compress(b"\xff\xfe")),
    }
    return {name: signer.sign(value).decode() for name, value in raw.items()}


def far_future(serializer: URLSafeTimedSerializer, payload: object) -> str:
    """A well-formed payload signed with a timestamp out of the clock's range."""
    signer = _FarFutureSigner(serializer.secret_keys[-1], salt=serializer.salt)
    return signer.sign(serializer.dump_payload(payload)).decode()


def signed_json(serializer: URLSafeTimedSerializer, payload: object) -> str:
    """`payload` signed as it is, in ASCII-escaped JSON (so a lone surrogate survives, which
    the serializer's own `dumps` cannot encode)."""
    signer = serializer.make_signer(serializer.salt)
    return signer.sign(base64_encode(json.dumps(payload).encode())).decode()


# Values of the wrong type or shape where a random id (a str of 64 hex digits) is expected.
NOT_AN_ID: dict[str, object] = {
    "number": 123,
    "null": None,
    "list": ["a" * 64],
    "object": {"id": "a" * 64},
    "lone surrogate": "\ud800" + "a" * 63,
    "empty": "",
    "not hex": "z" * 64,
}


def bad_tokens(
    serializer: URLSafeTimedSerializer, payloads: dict[str, object], *, good: object = "a" * 64
) -> dict[str, str]:
    """Every kind at once: undecodable, `good` with a far-future timestamp, and each payload
    signed as it is."""
    tokens = undecodable(serializer)
    tokens["far-future timestamp"] = far_future(serializer, good)
    tokens.update({name: signed_json(serializer, value) for name, value in payloads.items()})
    return tokens


def bad_link_payloads(entity_id: str) -> dict[str, object]:
    """Link payloads (`{"p": <entity id>, "e" | "f": ...}`) of the wrong type or shape."""
    return {
        "list": [entity_id],
        "text": entity_id,
        "no person": {"e": "ada@example.com", "f": "0" * 32},
        "person only": {"p": entity_id},
        "person a number": {"p": 5},
        "email a number": {"p": entity_id, "e": 5},
        "email a lone surrogate": {"p": entity_id, "e": "\ud800"},
        "fingerprint a number": {"p": entity_id, "f": 5},
        "fingerprint not ASCII": {"p": entity_id, "f": "\u00e9" * 32},
        "fingerprint a lone surrogate": {"p": entity_id, "f": "\ud800" * 32},
    }
