"""Step-up on the MFA routes: set-up and recovery codes need a recent proof in the session; a
password or code in the body is such a proof (and refreshes it)."""

from __future__ import annotations

import pyotp
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.mfa.models import OtpMethod
from quart_template.runtime import Runtime
from tests.support.email import queued_email_events
from tests.support.factories import signed_in
from tests.support.mfa import Enrolled, FrozenClock
from tests.support.reauth import age_proofs, fresh, proved_at, reauth_required


async def _reauthenticate(client: Client, headers: dict[str, str], password: str | None) -> None:
    response = await client.post("/reauthenticate", json={"password": password}, headers=headers)
    assert response.status_code == 200


async def _is_fresh(rt: Runtime, person_id: str) -> bool:
    (when,) = await proved_at(rt, person_id)
    return fresh(when)


async def test_confirming_and_enabling_need_a_recent_proof(
    client: Client, rt: Runtime, clock: FrozenClock
) -> None:
    user = await signed_in(rt)
    person_id = user.person.entity_id
    response = await client.post(
        "/qrcode", json={"password": user.password, "login_type": "signup"}, headers=user.headers
    )
    app = pyotp.TOTP((await response.get_json())["secret"])

    await age_proofs(rt, person_id)
    verify = {"otp": app.at(clock.now)}
    await reauth_required(await client.post("/verify_otp", json=verify, headers=user.headers))
    async with rt.db() as db:
        assert (await db.execute(select(OtpMethod.confirmed))).scalar_one() is False
    await _reauthenticate(client, user.headers, user.password)
    response = await client.post("/verify_otp", json=verify, headers=user.headers)
    assert response.status_code == 200

    await age_proofs(rt, person_id)
    clock.advance()
    enable = {"mfa_enabled": True, "otp": app.at(clock.now)}
    await reauth_required(await client.post("/setup_mfa", json=enable, headers=user.headers))
    await _reauthenticate(client, user.headers, user.password)
    # The refused request spent nothing: the same code turns MFA on now.
    response = await client.post("/setup_mfa", json=enable, headers=user.headers)
    assert response.status_code == 200


async def test_recovery_codes_need_a_recent_proof(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    await age_proofs(rt, enrolled.user.person.entity_id)
    before = await queued_email_events(rt)
    await reauth_required(await client.get("/recovery_codes", headers=enrolled.headers))
    await reauth_required(await client.post("/recovery_codes", headers=enrolled.headers))
    assert await queued_email_events(rt) == before  # nothing regenerated, nobody emailed
    await _reauthenticate(client, enrolled.headers, enrolled.user.password)
    response = await client.get("/recovery_codes", headers=enrolled.headers)
    assert (await response.get_json())["data"] == enrolled.codes
    response = await client.post("/recovery_codes", headers=enrolled.headers)
    assert response.status_code == 200
    assert set((await response.get_json())["data"]).isdisjoint(enrolled.codes)


async def test_qrcode_without_a_password_needs_a_recent_proof(client: Client, rt: Runtime) -> None:
    social = await signed_in(rt, email="social@example.com", password=None)
    await age_proofs(rt, social.person.entity_id)
    response = await client.post("/qrcode", json={"login_type": "social"}, headers=social.headers)
    await reauth_required(response)


async def test_the_password_at_qrcode_is_a_proof(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    person_id = user.person.entity_id
    await age_proofs(rt, person_id)
    response = await client.post(
        "/qrcode",
        json={"password": "wrong password!", "login_type": "signup"},
        headers=user.headers,
    )
    assert (await response.get_json())["message"] == "Incorrect password."
    assert not await _is_fresh(rt, person_id)
    response = await client.post(
        "/qrcode", json={"password": user.password, "login_type": "signup"}, headers=user.headers
    )
    assert response.status_code == 200
    assert await _is_fresh(rt, person_id)


async def test_disabling_with_a_body_credential_needs_no_earlier_proof(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    person_id = enrolled.user.person.entity_id
    await age_proofs(rt, person_id)
    response = await client.post(
        "/setup_mfa",
        json={"mfa_enabled": False, "password": enrolled.user.password},
        headers=enrolled.headers,
    )
    assert response.status_code == 200
    assert await _is_fresh(rt, person_id)
    assert (await queued_email_events(rt))[-1] == "MFA_DISABLED"


async def test_disabling_with_a_code_refreshes_the_proof(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    person_id = enrolled.user.person.entity_id
    await age_proofs(rt, person_id)
    response = await client.post(
        "/setup_mfa", json={"mfa_enabled": False, "otp": enrolled.code()}, headers=enrolled.headers
    )
    assert response.status_code == 200
    assert await _is_fresh(rt, person_id)


async def test_the_existing_password_at_update_password_is_a_proof(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    await age_proofs(rt, user.person.entity_id)
    response = await client.post(
        "/update_password",
        json={"existing_password": user.password, "new_password": "a brand new passphrase"},
        headers=user.headers,
    )
    assert response.status_code == 200
    assert await _is_fresh(rt, user.person.entity_id)
    assert (await client.get("/recovery_codes", headers=user.headers)).status_code == 200
