"""The WebAuthn ceremonies through py_webauthn: the options a browser is given, and the checks
of what its authenticator answered (origin, RP ID, challenge, signature, sign counter). No
database here: the callers find the challenge and the passkey, and store what changed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from quart_template.passkeys.models import Passkey
from quart_template.settings import Settings

CHALLENGE_SECONDS = 300  # a ceremony's challenge lives 5 minutes
# What garbage in a credential can raise inside py_webauthn besides its own errors.
MALFORMED = (WebAuthnException, ValueError, KeyError, TypeError, IndexError)


class CeremonyFailed(Exception):
    """The authenticator's answer does not verify (the reason goes to logs, never to clients)."""


class CounterWentBack(CeremonyFailed):
    """A genuine signature with a sign counter not above the stored one: the credential may
    have been cloned."""


def credential_key(raw_id: bytes) -> str:
    """How a credential is looked up: the SHA-256 of its id (ids may be 1023 bytes long)."""
    return hashlib.sha256(raw_id).hexdigest()


def challenge_hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def user_handle(person_id: str) -> bytes:
    """The WebAuthn user id of a person: the 16 bytes of their random entity id (no email)."""
    return bytes.fromhex(person_id)


def descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in (passkey.transports or "").split(",") if t]
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id), transports=transports or None
    )


def decoy_descriptor(settings: Settings, email: str) -> PublicKeyCredentialDescriptor:
    """A credential id for an address with no passkey (or no account): the same one every
    time, so the options for it look like a real person's."""
    digest = hashlib.sha256(f"passkey-decoy:{settings.secret_key}:{email}".encode()).digest()
    transports = [AuthenticatorTransport.HYBRID, AuthenticatorTransport.INTERNAL]
    return PublicKeyCredentialDescriptor(id=digest, transports=transports)


def _as_dict(options: Any) -> dict[str, Any]:
    converted: dict[str, Any] = json.loads(options_to_json(options))
    return converted


def registration_options(
    settings: Settings,
    *,
    person_id: str,
    email: str,
    display_name: str,
    challenge: bytes,
    existing: list[Passkey],
) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptions as JSON: a resident key and user verification
    preferred, the person's passkeys excluded (an authenticator holding one says so)."""
    options = generate_registration_options(
        rp_id=settings.webauthn_rp_id,
        rp_name=settings.webauthn_rp_name,
        user_id=user_handle(person_id),
        user_name=email,
        user_display_name=display_name,
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[descriptor(p) for p in existing],
    )
    return _as_dict(options)


def authentication_options(
    settings: Settings,
    *,
    challenge: bytes,
    allowed: list[PublicKeyCredentialDescriptor],
    user_verification: UserVerificationRequirement,
) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions as JSON (no `allowCredentials`: any passkey of this
    RP the authenticator holds, the discoverable flow)."""
    options = generate_authentication_options(
        rp_id=settings.webauthn_rp_id,
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=allowed,
        user_verification=user_verification,
    )
    return _as_dict(options)


@dataclass(frozen=True)
class NewPasskey:
    """What a verified registration leaves to store."""

    credential_id: str
    credential_key: str
    public_key: str
    sign_count: int
    transports: str | None
    aaguid: str
    backup_eligible: bool
    backed_up: bool


def read_registration(credential: dict[str, Any]) -> tuple[RegistrationCredential, bytes]:
    """The parsed credential and the challenge its client data names."""
    try:
        parsed = parse_registration_credential_json(credential)
        client_data = parse_client_data_json(parsed.response.client_data_json)
    except MALFORMED as exc:
        raise CeremonyFailed(str(exc)) from None
    return parsed, client_data.challenge


def verify_registration(
    settings: Settings, credential: RegistrationCredential, *, challenge: bytes
) -> NewPasskey:
    """Check the attestation (origin, RP ID, challenge, user presence); attestation
    statements are not required ("none"), so any authenticator may be registered."""
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.webauthn_rp_id,
            expected_origin=settings.webauthn_origins,
        )
    except MALFORMED as exc:
        raise CeremonyFailed(str(exc)) from None
    transports = credential.response.transports or []
    return NewPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        credential_key=credential_key(verified.credential_id),
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=",".join(t.value for t in transports)[:200] or None,
        aaguid=verified.aaguid,
        backup_eligible=verified.credential_device_type.value == "multi_device",
        backed_up=verified.credential_backed_up,
    )


@dataclass(frozen=True)
class Assertion:
    """A sign-in answer, parsed: the credential it names and the challenge it signed."""

    credential: AuthenticationCredential
    challenge: bytes

    @property
    def credential_key(self) -> str:
        return credential_key(self.credential.raw_id)


@dataclass(frozen=True)
class Verified:
    """What a verified assertion tells: whether the authenticator verified the user, its new
    counter and backup state."""

    user_verified: bool
    sign_count: int
    backed_up: bool


def read_assertion(credential: dict[str, Any]) -> Assertion:
    try:
        parsed = parse_authentication_credential_json(credential)
        client_data = parse_client_data_json(parsed.response.client_data_json)
    except MALFORMED as exc:
        raise CeremonyFailed(str(exc)) from None
    return Assertion(credential=parsed, challenge=client_data.challenge)


def verify_assertion(settings: Settings, assertion: Assertion, passkey: Passkey) -> Verified:
    """Check the assertion against the stored passkey: origin, RP ID, challenge, user
    presence, the signature, the user handle when one is sent, and then the sign counter
    (which must grow whenever the authenticator keeps one)."""
    handle = assertion.credential.response.user_handle
    if handle is not None and handle != user_handle(passkey.person_id):
        raise CeremonyFailed("the user handle is not the passkey's owner")
    try:
        verified = verify_authentication_response(
            credential=assertion.credential,
            expected_challenge=assertion.challenge,
            expected_rp_id=settings.webauthn_rp_id,
            expected_origin=settings.webauthn_origins,
            credential_public_key=base64url_to_bytes(passkey.public_key),
            # 0: py_webauthn's own counter check is skipped, so that ours, after the
            # signature is known to be genuine, can tell a clone from a forgery.
            credential_current_sign_count=0,
        )
    except MALFORMED as exc:
        raise CeremonyFailed(str(exc)) from None
    stored, new = passkey.sign_count, verified.new_sign_count
    if (stored > 0 or new > 0) and new <= stored:
        raise CounterWentBack(f"sign count {new} is not above {stored}")
    return Verified(
        user_verified=verified.user_verified,
        sign_count=new,
        backed_up=verified.credential_backed_up,
    )
