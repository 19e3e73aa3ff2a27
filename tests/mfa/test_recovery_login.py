"""/verify_recovery_code: each code signs in once, also under twenty parallel requests."""

from __future__ import annotations

import asyncio

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.accounts.models import Person
from quart_template.runtime import Runtime
from quart_template.signin.challenge import begin_second_factor
from tests.support.accounts import USER_FIELDS
from tests.support.factories import signed_in
from tests.support.mfa import Enrolled, password_step


async def _recover(client: Client, **body: object) -> tuple[int, dict]:
    response = await client.post("/verify_recovery_code", json=body)
    return response.status_code, await response.get_json()


async def _challenges(rt: Runtime, enrolled: Enrolled, count: int) -> list[str]:
    tokens = []
    async with rt.db() as db, db.begin():
        person = await db.get(Person, enrolled.user.person.entity_id)
        assert person is not None
        for _ in range(count):
            token = await begin_second_factor(
                db, settings=rt.settings, person=person, method="password"
            )
            tokens.append(token)
    return tokens


async def test_a_code_signs_in_once(client: Client, rt: Runtime, enrolled: Enrolled) -> None:
    code = enrolled.codes[0]
    mfa_token = await password_step(client, enrolled)
    await signed_in(rt, email="other@example.com")
    status, _ = await _recover(
        client, mfa_token=mfa_token, email="other@example.com", recovery_code=code
    )
    assert status == 401  # the email must match the token's person
    response = await client.post(
        "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": code.lower()}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["message"] == "The MFA recovery code is valid" and body["success"] is True
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["mfa_enabled"] is True and body["user"]["access_token"]

    status, body = await _recover(
        client, mfa_token=await password_step(client, enrolled), recovery_code=code
    )
    assert (status, body["success"]) == (401, False)


async def test_codes_match_case_insensitively_and_legacy_email_works(
    client: Client, enrolled: Enrolled
) -> None:
    await password_step(client, enrolled)
    status, _ = await _recover(
        client, email=enrolled.email, recovery_code=enrolled.codes[1].lower()
    )
    assert status == 200
    # The password step was spent by that login.
    status, _ = await _recover(client, email=enrolled.email, recovery_code=enrolled.codes[2])
    assert status == 401


async def test_no_password_step_or_wrong_code(client: Client, enrolled: Enrolled) -> None:
    status, _ = await _recover(client, email=enrolled.email, recovery_code=enrolled.codes[0])
    assert status == 401
    status, _ = await _recover(client, recovery_code=enrolled.codes[0])
    assert status == 401
    mfa_token = await password_step(client, enrolled)
    for wrong in ("0" * 32, "not a code", enrolled.codes[0][:-1]):
        status, _ = await _recover(client, mfa_token=mfa_token, recovery_code=wrong)
        assert status == 401, wrong
    status, _ = await _recover(client, mfa_token=mfa_token, recovery_code="")
    assert status == 400
    status, _ = await _recover(client, mfa_token=mfa_token, recovery_code=enrolled.codes[0])
    assert status == 200


@pytest.mark.parametrize("code", ["", "Z" * 32, "A" * 33, "A" * 1000, None, 12, ["A"]])
async def test_an_odd_code_is_a_400_or_401(
    client: Client, enrolled: Enrolled, code: object
) -> None:
    mfa_token = await password_step(client, enrolled)
    status, body = await _recover(client, mfa_token=mfa_token, recovery_code=code)
    assert status in (400, 401) and body["success"] is False


async def test_wrong_codes_until_429(client: Client, enrolled: Enrolled) -> None:
    mfa_token = await password_step(client, enrolled)
    for _ in range(5):
        status, _ = await _recover(client, mfa_token=mfa_token, recovery_code="F" * 32)
        assert status == 401
    response = await client.post(
        "/verify_recovery_code", json={"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]}
    )
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


async def test_twenty_parallel_requests_with_one_code(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    # Twenty separate password steps: only the code's single use can stop the others.
    tokens = await _challenges(rt, enrolled, 20)
    code = enrolled.codes[2]
    results = await asyncio.gather(
        *(_recover(client, mfa_token=token, recovery_code=code) for token in tokens)
    )
    statuses = [status for status, _ in results]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 401, 429}


async def test_twenty_parallel_requests_with_one_mfa_token(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    [token] = await _challenges(rt, enrolled, 1)
    results = await asyncio.gather(
        *(_recover(client, mfa_token=token, recovery_code=code) for code in enrolled.codes * 2)
    )
    statuses = [status for status, _ in results]
    assert statuses.count(200) == 1, statuses


async def test_concurrent_mfa_writes_of_one_person_never_fail(
    client: Client, rt: Runtime, enrolled: Enrolled
) -> None:
    # Logins, a regeneration and a disable racing: every MFA write locks the person first, so
    # MariaDB never deadlocks them into a 500.
    tokens = await _challenges(rt, enrolled, 6)

    async def regenerate() -> tuple[int, dict]:
        response = await client.post("/recovery_codes", headers=enrolled.headers)
        return response.status_code, await response.get_json()

    async def disable() -> tuple[int, dict]:
        response = await client.post(
            "/setup_mfa",
            json={"mfa_enabled": False, "password": enrolled.user.password},
            headers=enrolled.headers,
        )
        return response.status_code, await response.get_json()

    results = await asyncio.gather(
        *(
            _recover(client, mfa_token=t, recovery_code=c)
            for t, c in zip(tokens, enrolled.codes[:6], strict=True)
        ),
        regenerate(),
        regenerate(),
        disable(),
    )
    statuses = [status for status, _ in results]
    assert 500 not in statuses, results
    assert statuses[-1] == 200  # the disable
