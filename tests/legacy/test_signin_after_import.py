"""The old users sign in after the move: the old password (upgraded to argon2id on the way),
the old authenticator and recovery codes, the same provider accounts."""

from __future__ import annotations

import io

import pyotp
import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select
from sqlalchemy.orm import undefer

from quart_template.accounts.models import LoginMethod, Person
from quart_template.legacy.command import run_import
from quart_template.mfa import totp
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.legacy.world import PASSWORD, PROVIDER_IDS, SCRYPT_PASSWORD, World
from tests.support.accounts import log_in
from tests.support.mfa import freeze_totp_clock
from tests.support.social import sign_in_body


@pytest.fixture
async def moved(settings: Settings, legacy_url: str, world: World) -> World:
    await run_import(settings, from_url=legacy_url, out=io.StringIO())
    return world


async def _hash(rt: Runtime, entity_id: str) -> str | None:
    async with rt.db() as db:
        query = select(Person).where(Person.entity_id == entity_id)
        person = (await db.execute(query.options(undefer(Person.password_hash)))).scalar_one()
        return person.password_hash


@pytest.mark.parametrize(
    ("name", "email", "password"),
    [("ada", "ada@example.com", PASSWORD), ("sam", "sam@example.com", SCRYPT_PASSWORD)],
)
async def test_the_old_password_signs_in_and_is_upgraded(
    client: Client, rt: Runtime, moved: World, name: str, email: str, password: str
) -> None:
    assert await log_in(client, email, "not the password") is not None
    response = await log_in(client, email, password)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["user"]["entity_id"] == moved.ids[name]
    assert body["user"]["access_token"]
    assert (await _hash(rt, moved.ids[name]) or "").startswith("$argon2id$")
    again = await log_in(client, email, password)
    assert again.status_code == 200


async def test_a_wrong_password_is_refused_and_the_hash_stays(
    client: Client, rt: Runtime, moved: World
) -> None:
    response = await log_in(client, "ada@example.com", "not the password")
    assert response.status_code == 401
    assert (await _hash(rt, moved.ids["ada"]) or "").startswith("pbkdf2:sha256:")


async def test_the_loser_of_a_duplicate_email_cannot_sign_in_with_it(
    client: Client, moved: World
) -> None:
    response = await log_in(client, "dup@example.com", PASSWORD)
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["user"]["entity_id"] == moved.ids["dup_b"]


async def test_mfa_needs_a_code_of_the_old_authenticator(
    client: Client, moved: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = freeze_totp_clock(monkeypatch)
    response = await log_in(client, "mia@example.com", PASSWORD)
    body = await response.get_json()
    assert response.status_code == 200 and "mfa_token" in body, body
    assert "access_token" not in body.get("user", {}) or not body["user"]["access_token"]
    code = pyotp.TOTP(moved.secret).at(clock.now)
    response = await client.post("/login_mfa", json={"mfa_token": body["mfa_token"], "otp": code})
    signed = await response.get_json()
    assert response.status_code == 200, signed
    assert signed["user"]["entity_id"] == moved.ids["mia"]
    assert signed["user"]["mfa_enabled"] is True and signed["user"]["access_token"]
    assert totp.clock is clock


async def test_an_old_recovery_code_signs_in_once(client: Client, moved: World) -> None:
    code = moved.codes[0]
    for expected in (200, 401):
        step = await (await log_in(client, "mia@example.com", PASSWORD)).get_json()
        response = await client.post(
            "/verify_recovery_code", json={"mfa_token": step["mfa_token"], "recovery_code": code}
        )
        assert response.status_code == expected, await response.get_json()


async def test_a_code_used_before_the_move_stays_used(client: Client, moved: World) -> None:
    step = await (await log_in(client, "mia@example.com", PASSWORD)).get_json()
    response = await client.post(
        "/verify_recovery_code",
        json={"mfa_token": step["mfa_token"], "recovery_code": moved.used_code},
    )
    assert response.status_code == 401


@pytest.mark.parametrize("provider", sorted(PROVIDER_IDS))
async def test_the_same_provider_account_signs_the_same_person_in(
    client: Client, rt: Runtime, providers: FakeProviders, moved: World, provider: str
) -> None:
    uid = PROVIDER_IDS[provider].removeprefix("g-").removeprefix("li-").removeprefix("fb")
    # A different email at the provider: only the account id can find the person.
    body = sign_in_body(providers, provider, f"renamed-{provider}@example.com", uid)
    response = await client.post(f"/social/{provider}", json=body)
    answer = await response.get_json()
    assert response.status_code == 200, answer
    assert answer["user"]["entity_id"] == moved.ids[provider]
    async with rt.db() as db:
        methods = (
            (
                await db.execute(
                    select(LoginMethod).where(LoginMethod.person_id == moved.ids[provider])
                )
            )
            .scalars()
            .all()
        )
    assert [m.entity_id for m in methods] == [moved.ids[f"{provider}_method"]]


async def test_a_method_without_a_provider_id_is_linked_again_by_verified_email(
    client: Client, rt: Runtime, providers: FakeProviders, moved: World
) -> None:
    body = sign_in_body(providers, "github", "nosub@example.com", "4242")
    response = await client.post("/social/github", json=body)
    answer = await response.get_json()
    assert response.status_code == 200, answer
    assert answer["user"]["entity_id"] == moved.ids["nosub"]
    async with rt.db() as db:
        methods = (
            (
                await db.execute(
                    select(LoginMethod).where(
                        LoginMethod.person_id == moved.ids["nosub"], LoginMethod.active.is_(True)
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(m.entity_id, m.identity_key) for m in methods] == [
        (moved.ids["nosub_method"], "github:4242")
    ]
