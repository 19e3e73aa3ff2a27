"""Guessing limits through the real sign-in routes: a stranger's failures lock the stranger's
address, not the owner; many addresses together lock the account; a completed sign-in (every
factor) or a reset clears the account's counters, a password step still needing MFA does not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.accounts import SIGNUP, log_in, reset_link, signup_link
from tests.support.factories import create_person, signed_in
from tests.support.http import json_error, retry_after
from tests.support.mfa import Enrolled, enrol, freeze_totp_clock

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
ALL_IPS_LIMIT = 8
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """A small ceiling per account from all addresses, so tests reach it quickly."""
    return make_settings(login_limit_per_account_all_ips=f"{ALL_IPS_LIMIT}/hour")


def at(ip: str) -> dict[str, Any]:
    """Request keywords that make `ip` the socket peer."""
    return {"scope_base": {"client": (ip, 40000)}}


async def fail(client: Client, ip: str, times: int, email: str = "ada@example.com") -> None:
    for _ in range(times):
        await json_error(await log_in(client, email, "wrong passphrase", **at(ip)), 401)


@pytest.fixture
async def enrolled(client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Enrolled:
    user = await signed_in(rt, email="ada@example.com")
    return await enrol(client, user, freeze_totp_clock(monkeypatch))


async def password_step(client: Client, ip: str) -> str:
    response = await log_in(client, **at(ip))
    body = await response.get_json()
    assert response.status_code == 200 and "mfa_token" in body, body
    token: str = body["mfa_token"]
    return token


async def test_an_attacker_failing_at_one_address_does_not_lock_the_owner_out_at_another(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt)
    await fail(client, ATTACKER, 5)
    await retry_after(await log_in(client, **at(ATTACKER)))
    assert (await log_in(client, **at(OWNER))).status_code == 200


async def test_failures_from_many_addresses_lock_the_account(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    for n in range(ALL_IPS_LIMIT):
        await fail(client, f"192.0.2.{n}", 1)
    await retry_after(await log_in(client, **at(OWNER)))
    await create_person(rt, email="bob@example.com")
    assert (await log_in(client, "bob@example.com", **at(OWNER))).status_code == 200


async def test_a_successful_login_clears_the_account_counters(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    await fail(client, OWNER, 4)
    assert (await log_in(client, **at(OWNER))).status_code == 200
    await fail(client, OWNER, 4)
    assert (await log_in(client, **at(OWNER))).status_code == 200


async def test_a_reset_lifts_the_lock_wherever_it_was_set(client: Client, rt: Runtime) -> None:
    await create_person(rt)
    await fail(client, OWNER, 5)
    await fail(client, ATTACKER, 3)  # the account has now failed from all addresses too often
    await retry_after(await log_in(client, **at(OWNER)))
    await retry_after(await log_in(client, **at("192.0.2.200")))
    token, uidb64 = await reset_link(client, rt)
    reset = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}, **at("192.0.2.1")
    )
    assert reset.status_code == 200
    assert (await log_in(client, password=NEW_PASSWORD, **at(OWNER))).status_code == 200


async def test_a_password_step_that_needs_the_second_factor_clears_nothing(
    client: Client, enrolled: Enrolled
) -> None:
    await fail(client, OWNER, 4)
    await password_step(client, OWNER)
    await fail(client, OWNER, 1)
    await retry_after(await log_in(client, **at(OWNER)))


async def test_the_second_factor_completing_the_sign_in_clears(
    client: Client, enrolled: Enrolled
) -> None:
    await fail(client, OWNER, 4)
    mfa_token = await password_step(client, OWNER)
    done = await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "otp": enrolled.next_code()}, **at(OWNER)
    )
    assert done.status_code == 200
    await fail(client, OWNER, 4)
    await password_step(client, OWNER)


async def test_a_recovery_code_completing_the_sign_in_clears(
    client: Client, enrolled: Enrolled
) -> None:
    await fail(client, OWNER, 4)
    mfa_token = await password_step(client, OWNER)
    done = await client.post(
        "/verify_recovery_code",
        json={"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]},
        **at(OWNER),
    )
    assert done.status_code == 200
    await fail(client, OWNER, 4)
    await password_step(client, OWNER)


async def test_a_strangers_legacy_codes_do_not_stop_the_owners_second_factor(
    client: Client, enrolled: Enrolled
) -> None:
    mfa_token = await password_step(client, OWNER)  # leaves a live challenge for the email
    wrong = f"{(int(enrolled.code()) + 1) % 1_000_000:06d}"
    for _ in range(5):
        guess = await client.post(
            "/login_mfa", json={"email": enrolled.email, "otp": wrong}, **at(ATTACKER)
        )
        await json_error(guess, 401)
    refused = await client.post(
        "/login_mfa", json={"email": enrolled.email, "otp": enrolled.code()}, **at(ATTACKER)
    )
    await retry_after(refused)
    owner = await client.post(
        "/login_mfa", json={"mfa_token": mfa_token, "otp": enrolled.code()}, **at(OWNER)
    )
    assert owner.status_code == 200, await owner.get_json()


async def test_a_strangers_legacy_recovery_codes_do_not_stop_the_owner(
    client: Client, enrolled: Enrolled
) -> None:
    mfa_token = await password_step(client, OWNER)
    for _ in range(5):
        guess = await client.post(
            "/verify_recovery_code",
            json={"email": enrolled.email, "recovery_code": "0" * 32},
            **at(ATTACKER),
        )
        await json_error(guess, 401)
    owner = await client.post(
        "/verify_recovery_code",
        json={"mfa_token": mfa_token, "recovery_code": enrolled.codes[0]},
        **at(OWNER),
    )
    assert owner.status_code == 200, await owner.get_json()


async def test_signing_in_by_the_emailed_link_clears(client: Client, rt: Runtime) -> None:
    token, uidb64 = await signup_link(client, rt)
    await fail(client, OWNER, 5, email=SIGNUP["email"])
    await retry_after(await log_in(client, SIGNUP["email"], SIGNUP["password"], **at(OWNER)))
    assert (await client.post(f"/verify/{token}/{uidb64}", **at("192.0.2.1"))).status_code == 200
    again = await log_in(client, SIGNUP["email"], SIGNUP["password"], **at(OWNER))
    assert again.status_code == 200
