"""A software authenticator for the passkey tests, built from the `fido2` package's primitives
(authenticator data, attested credential data, COSE keys, client data): it answers the options
the service gives as a browser and a platform authenticator would, with a real ES256 key, and
can be told to lie (another origin, another RP ID, a counter that goes back, no user
verification) so the service's checks can be seen refusing it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

FLAG = AuthenticatorData.FLAG
AAGUID = bytes.fromhex("00112233445566778899aabbccddeeff")


@dataclass
class Credential:
    """One credential the authenticator holds: its id, key, owner handle and counter."""

    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    counter: int = 0

    @property
    def id(self) -> str:
        return websafe_encode(self.credential_id)


@dataclass
class SoftAuthenticator:
    """Answers creation and request options for `origin`; `counting=False` is an
    authenticator that keeps no counter (always 0), `backup=True` a synced passkey."""

    origin: str
    user_verified: bool = True
    counting: bool = True
    backup: bool = False
    credentials: list[Credential] = field(default_factory=list)

    def _flags(
        self, *, user_verified: bool | None, attested: bool = False
    ) -> AuthenticatorData.FLAG:
        flags = FLAG.UP
        if self.user_verified if user_verified is None else user_verified:
            flags |= FLAG.UV
        if self.backup:
            flags |= FLAG.BE | FLAG.BS
        if attested:
            flags |= FLAG.AT
        return flags

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool | None = None,
        again: Credential | None = None,
    ) -> dict[str, Any]:
        """`navigator.credentials.create()`'s answer, as `credential.toJSON()` sends it
        (`again`: a credential it holds presented once more, as no honest one would)."""
        rp = rp_id or options["rp"]["id"]
        key = again.key if again else ec.generate_private_key(ec.SECP256R1())
        credential = again or Credential(
            credential_id=os.urandom(16),
            key=key,
            rp_id=rp,
            user_handle=websafe_decode(options["user"]["id"]),
        )
        attested = AttestedCredentialData.create(
            AAGUID, credential.credential_id, ES256.from_cryptography_key(key.public_key())
        )
        auth_data = AuthenticatorData.create(
            hashlib.sha256(rp.encode()).digest(),
            self._flags(user_verified=user_verified, attested=True),
            credential.counter,
            attested,
        )
        client_data = CollectedClientData.create(
            "webauthn.create", websafe_decode(options["challenge"]), origin or self.origin
        )
        attestation = AttestationObject.create("none", auth_data, {})
        if again is None:
            self.credentials.append(credential)
        return {
            "id": credential.id,
            "rawId": credential.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "attestationObject": websafe_encode(attestation),
                "transports": ["internal", "hybrid"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        credential: Credential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool | None = None,
        counter: int | None = None,
    ) -> dict[str, Any]:
        """`navigator.credentials.get()`'s answer: signed by `credential` (default: the first
        one allowed, or, for the discoverable flow, the newest held)."""
        chosen = credential or self._pick(options)
        if counter is not None:
            chosen.counter = counter
        elif self.counting:
            chosen.counter += 1
        auth_data = AuthenticatorData.create(
            hashlib.sha256((rp_id or chosen.rp_id).encode()).digest(),
            self._flags(user_verified=user_verified),
            chosen.counter,
        )
        client_data = CollectedClientData.create(
            "webauthn.get", websafe_decode(options["challenge"]), origin or self.origin
        )
        signed = bytes(auth_data) + hashlib.sha256(client_data).digest()
        signature = chosen.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": chosen.id,
            "rawId": chosen.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "authenticatorData": websafe_encode(auth_data),
                "signature": websafe_encode(signature),
                "userHandle": websafe_encode(chosen.user_handle),
            },
        }

    def _pick(self, options: dict[str, Any]) -> Credential:
        allowed = {item["id"] for item in options.get("allowCredentials") or []}
        for credential in reversed(self.credentials):
            if not allowed or credential.id in allowed:
                return credential
        raise AssertionError("the authenticator holds none of the allowed credentials")
