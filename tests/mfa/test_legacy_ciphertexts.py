"""OTP secrets stored before the data key was derived with HKDF and ciphertexts carried a key
id keep working: the person signs in with their authenticator app as before."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select, update

from quart_template.mfa.checks import secret_context
from quart_template.mfa.models import OtpMethod
from quart_template.runtime import Runtime
from tests.support.mfa import Enrolled, password_step


def sealed_the_old_way(plaintext: str, *, secret_key: str, context: str) -> str:
    """What the earlier code stored: `v1:` + AES-GCM under SHA-256("data-encryption:" + key)."""
    key = hashlib.sha256(f"data-encryption:{secret_key}".encode()).digest()
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return "v1:" + base64.b64encode(nonce + sealed).decode()


async def test_an_otp_secret_stored_the_old_way_still_signs_in(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    async with rt.db() as db, db.begin():
        method = (
            await db.execute(
                select(OtpMethod.entity_id).where(
                    OtpMethod.person_id == enrolled.user.person.entity_id
                )
            )
        ).one()
        old = sealed_the_old_way(
            enrolled.secret,
            secret_key=rt.settings.secret_key,
            context=secret_context(method.entity_id),
        )
        await db.execute(
            update(OtpMethod)
            .where(OtpMethod.entity_id == method.entity_id)
            .values(secret_encrypted=old)
        )
    async with rt.db() as db:
        stored = await db.scalar(
            select(OtpMethod.secret_encrypted).where(OtpMethod.entity_id == method.entity_id)
        )
    assert stored == old
    mfa_token = await password_step(client, enrolled)
    response = await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "otp": enrolled.next_code()}
    )
    assert response.status_code == 200, await response.get_json()
