"""Audit copies of the MFA entities keep no OTP secret and no copy of a recovery code."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.entities import REDACTED
from quart_template.mfa.models import OtpMethod, RecoveryCode
from quart_template.runtime import Runtime
from tests.support.at_rest import audit_values, table_text
from tests.support.mfa import Enrolled, password_step


async def test_the_otp_secret_is_not_in_its_audit_copies(rt: Runtime, enrolled: Enrolled) -> None:
    async with rt.db() as db:
        method_id = (await db.execute(select(OtpMethod.entity_id))).scalar_one()
    # Confirming set-up and each accepted code made a version.
    audited = await audit_values(rt, "otp_method", "secret_encrypted", entity_id=method_id)
    assert audited and set(audited) == {REDACTED}
    assert "v2:" in await table_text(rt, "otp_method")  # the current row keeps its secret


async def test_a_spent_recovery_code_leaves_no_copy_in_the_audit(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    mfa_token = await password_step(client, enrolled)
    response = await client.post(
        "/verify_recovery_code",
        json={"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]},
    )
    assert response.status_code == 200
    async with rt.db() as db:
        spent = select(RecoveryCode.entity_id).where(RecoveryCode.used_at.is_not(None))
        code_id = (await db.execute(spent)).scalar_one()
    assert await audit_values(rt, "recovery_code", "code_encrypted", entity_id=code_id) == [
        REDACTED
    ]
    assert "v2:" not in await table_text(rt, "recovery_code_audit")
