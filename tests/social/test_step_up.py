"""Step-up on the social routes: linking a new account to the caller and unlinking one need a
recent proof in the session; signing in again with an account already linked is such a proof
(how a person without a password re-authenticates); every change emails the owner."""

from __future__ import annotations

from collections.abc import Callable

from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.accounts.models import LoginMethod
from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.support.email import queued_email_events
from tests.support.factories import PersonWithToken, signed_in
from tests.support.http import auth, retry_after
from tests.support.reauth import age_proofs, fresh, proved_at, reauth_required


async def _providers_of(rt: Runtime, person_id: str) -> list[str]:
    async with rt.db() as db:
        query = select(LoginMethod.provider).where(
            LoginMethod.person_id == person_id, LoginMethod.active.is_(True)
        )
        return sorted((await db.execute(query)).scalars())


async def _method_id(client: Client, headers: dict[str, str], provider: str) -> str:
    listing = await (await client.get("/social", headers=headers)).get_json()
    found = [m for m in listing["login_methods"] if m["provider"] == provider]
    entity_id: str = found[0]["profile"]["entity_id"]
    return entity_id


async def _link_github(
    client: Client, providers: FakeProviders, user: PersonWithToken, uid: int = 1
) -> int:
    code = providers.github_account(uid, email=f"gh{uid}@example.com")
    response = await client.post("/social/github", json={"code": code}, headers=user.headers)
    return response.status_code


async def test_linking_a_new_account_needs_a_recent_proof(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    caller = await signed_in(rt)
    await age_proofs(rt, caller.person.entity_id)
    code = providers.github_account(1, email="gh1@example.com")
    response = await client.post("/social/github", json={"code": code}, headers=caller.headers)
    await reauth_required(response)
    assert await _providers_of(rt, caller.person.entity_id) == ["signup"]
    assert "SOCIAL_LINKED" not in await queued_email_events(rt)

    response = await client.post(
        "/reauthenticate", json={"password": caller.password}, headers=caller.headers
    )
    assert response.status_code == 200
    assert await _link_github(client, providers, caller) == 200
    assert await _providers_of(rt, caller.person.entity_id) == ["github", "signup"]
    assert (await queued_email_events(rt))[-1] == "SOCIAL_LINKED"


async def test_signing_in_again_with_a_linked_account_is_a_proof(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    first = providers.github_account(1, email="gh@example.com")
    body = await (await client.post("/social/github", json={"code": first})).get_json()
    token, person_id = body["user"]["access_token"], body["user"]["entity_id"]
    await age_proofs(rt, person_id)
    social = {"login_type": "social"}
    await reauth_required(await client.post("/qrcode", json=social, headers=auth(token)))

    again = providers.github_account(1, email="gh@example.com")
    response = await client.post("/social/github", json={"code": again}, headers=auth(token))
    assert response.status_code == 200
    assert (await response.get_json())["user"]["access_token"] == token  # no new session
    (when,) = await proved_at(rt, person_id)
    assert fresh(when)
    assert (await client.post("/qrcode", json=social, headers=auth(token))).status_code == 200
    google = providers.google_token(sub="g-2", email="g@example.com")
    response = await client.post("/social/google", json={"idtoken": google}, headers=auth(token))
    assert response.status_code == 200
    assert await _providers_of(rt, person_id) == ["github", "google"]


async def test_unlinking_needs_a_recent_proof_and_tells_the_owner(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    caller = await signed_in(rt)
    assert await _link_github(client, providers, caller) == 200
    uuid = await _method_id(client, caller.headers, "github")
    await age_proofs(rt, caller.person.entity_id)
    await reauth_required(await client.delete(f"/social/{uuid}", headers=caller.headers))
    assert await _providers_of(rt, caller.person.entity_id) == ["github", "signup"]

    response = await client.post(
        "/reauthenticate", json={"password": caller.password}, headers=caller.headers
    )
    assert response.status_code == 200
    assert (await client.delete(f"/social/{uuid}", headers=caller.headers)).status_code == 200
    assert await _providers_of(rt, caller.person.entity_id) == ["signup"]
    assert (await queued_email_events(rt))[-1] == "SOCIAL_UNLINKED"


async def test_removing_the_password_tells_the_owner(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    caller = await signed_in(rt)
    assert await _link_github(client, providers, caller) == 200
    uuid = await _method_id(client, caller.headers, "signup")
    assert (await client.delete(f"/social/{uuid}", headers=caller.headers)).status_code == 200
    assert (await queued_email_events(rt))[-1] == "PASSWORD_REMOVED"


async def test_unlinks_count_against_the_email_limits(
    make_settings: Callable[..., Settings], providers: FakeProviders
) -> None:
    settings = make_settings(email_limit_per_address="1/hour", **providers.settings_overrides())
    async with create_app(settings).test_app() as served:
        rt: Runtime = served.app.extensions["runtime"]
        client = served.test_client()
        caller = await signed_in(rt)
        for uid in (1, 2):
            assert await _link_github(client, providers, caller, uid) == 200
        listing = await (await client.get("/social", headers=caller.headers)).get_json()
        github = [
            m["profile"]["entity_id"] for m in listing["login_methods"] if m["provider"] == "github"
        ]
        assert (
            await client.delete(f"/social/{github[0]}", headers=caller.headers)
        ).status_code == 200
        await retry_after(await client.delete(f"/social/{github[1]}", headers=caller.headers))
        assert await _providers_of(rt, caller.person.entity_id) == ["github", "signup"]
