"""Pre-account hijack: an attacker signs up with the victim's address and a password of their
own, and waits. When the victim then signs in with a provider that verified the address, the
account becomes the victim's alone: the attacker's password, sessions, pending second steps, MFA,
passkeys and login methods are gone, and the victim is told."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select

from quart_template.accounts.models import LoginMethod, login_method_audit
from quart_template.accounts.repository import get_person_by_email
from quart_template.mfa.models import MfaChallenge, OtpMethod, RecoveryCode
from quart_template.runtime import Runtime
from tests.fakes.providers import FakeProviders
from tests.support.accounts import SIGNUP, access_token, emails, log_in
from tests.support.factories import PersonWithToken
from tests.support.http import auth, json_error
from tests.support.mfa import Enrolled, enrol, freeze_totp_clock
from tests.support.passkeys import ORIGIN, passkey_login, register
from tests.support.social import sign_in_body
from tests.support.webauthn import SoftAuthenticator

VICTIM = "victim@example.com"
ATTACKER_PASSWORD = "the attacker's own passphrase"
ATTACKER_GITHUB = "666"
TAKEN_OVER = "ACCOUNT_TAKEN_OVER_BY_PROVIDER"


@dataclass
class Attacker:
    """What the attacker holds after preparing the victim's address."""

    token: str
    enrolled: Enrolled | None
    mfa_token: str | None


async def _prepare(
    client: Client,
    rt: Runtime,
    providers: FakeProviders,
    monkeypatch: pytest.MonkeyPatch,
    *,
    with_mfa: bool,
) -> Attacker:
    """Sign up unverified with the victim's address, log in, link a GitHub account of their
    own, and (`with_mfa`) turn MFA on and leave a second step pending."""
    signup = {**SIGNUP, "email": VICTIM, "password": ATTACKER_PASSWORD, "first_name": "Mallory"}
    assert (await client.post("/signup", json=signup)).status_code == 201
    token = await access_token(await log_in(client, VICTIM, ATTACKER_PASSWORD))
    own = {"code": providers.github_account(int(ATTACKER_GITHUB), email="mallory@example.net")}
    linked = await client.post("/social/github", json=own, headers=auth(token))
    assert linked.status_code == 200
    if not with_mfa:
        return Attacker(token=token, enrolled=None, mfa_token=None)
    async with rt.db() as db:
        person = await get_person_by_email(db, email=VICTIM)
    assert person is not None and not person.verified
    user = PersonWithToken(person=person, password=ATTACKER_PASSWORD, token=token)
    enrolled = await enrol(client, user, freeze_totp_clock(monkeypatch))
    pending = await (await log_in(client, VICTIM, ATTACKER_PASSWORD)).get_json()
    return Attacker(token=token, enrolled=enrolled, mfa_token=pending["mfa_token"])


async def _count(rt: Runtime, query: object) -> int:
    async with rt.db() as db:
        return int(await db.scalar(query))  # type: ignore[call-overload]


@pytest.mark.parametrize("provider", ["google", "github", "linkedin"])
async def test_a_verified_provider_email_takes_an_unverified_account_over(
    client: Client,
    rt: Runtime,
    providers: FakeProviders,
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
) -> None:
    attacker = await _prepare(client, rt, providers, monkeypatch, with_mfa=True)
    assert attacker.enrolled is not None and attacker.mfa_token is not None

    # The victim signs in with a provider that verified the address.
    response = await client.post(
        f"/social/{provider}", json=sign_in_body(providers, provider, VICTIM, "1")
    )
    assert response.status_code == 200, await response.get_json()
    user = (await response.get_json())["user"]
    assert user["email"] == VICTIM and user["verified"] is True
    assert user["mfa_enabled"] is False and user["access_token"]
    assert user["first_name"] != "Mallory"  # the names are the provider's now
    victim = auth(user["access_token"])

    # Nothing of the attacker's works any more.
    await json_error(await log_in(client, VICTIM, ATTACKER_PASSWORD), 401)
    await json_error(await client.get("/sessions", headers=auth(attacker.token)), 401)
    second = {"mfa_token": attacker.mfa_token, "otp": attacker.enrolled.next_code()}
    await json_error(await client.post("/login_mfa", json=second), 401)
    legacy = {"email": VICTIM, "otp": attacker.enrolled.next_code()}
    await json_error(await client.post("/login_mfa", json=legacy), 401)
    recovery = {"email": VICTIM, "recovery_code": attacker.enrolled.codes[0]}
    await json_error(await client.post("/verify_recovery_code", json=recovery), 401)
    # The attacker's own GitHub account no longer leads into the victim's account.
    own = {"code": providers.github_account(int(ATTACKER_GITHUB), email="mallory@example.net")}
    elsewhere = await (await client.post("/social/github", json=own)).get_json()
    assert elsewhere["user"]["entity_id"] != user["entity_id"]

    # The victim's account: one way in, no password, no MFA, like any social-only person.
    listing = await (await client.get("/social", headers=victim)).get_json()
    assert [m["provider"] for m in listing["login_methods"]] == [provider]
    change = {"existing_password": ATTACKER_PASSWORD, "new_password": "a new long passphrase"}
    await json_error(await client.post("/update_password", json=change, headers=victim), 403)
    qrcode = await client.post("/qrcode", json={"login_type": "social"}, headers=victim)
    assert qrcode.status_code == 200  # as for a person without a password
    person_id = user["entity_id"]
    assert await _count(rt, _active(OtpMethod, person_id)) <= 1  # only the /qrcode just made
    assert await _count(rt, _active(RecoveryCode, person_id)) == 0
    live = select(func.count()).where(
        MfaChallenge.person_id == person_id, MfaChallenge.used_at.is_(None)
    )
    assert await _count(rt, live) == 0
    # Soft deletes, audited: the attacker's methods are still there, inactive, with history.
    assert await _count(rt, _inactive(LoginMethod, person_id)) == 2
    audited = (
        select(func.count())
        .select_from(login_method_audit)
        .where(login_method_audit.c.person_id == person_id)
    )
    assert await _count(rt, audited) >= 2

    # The victim was told, once; no plain "linked" notice for this.
    notices = await emails(rt, event=TAKEN_OVER, to=VICTIM)
    assert len(notices) == 1 and notices[0]["data"]["provider"] == provider
    linked = await emails(rt, event="SOCIAL_LINKED", to=VICTIM)
    assert len(linked) == 1  # the attacker's own GitHub link, before the takeover


async def test_a_takeover_without_mfa_ends_the_password_and_sessions(
    client: Client, rt: Runtime, providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = await _prepare(client, rt, providers, monkeypatch, with_mfa=False)
    body = sign_in_body(providers, "google", VICTIM, "1")
    response = await client.post("/social/google", json=body)
    assert response.status_code == 200
    await json_error(await log_in(client, VICTIM, ATTACKER_PASSWORD), 401)
    await json_error(await client.get("/sessions", headers=auth(attacker.token)), 401)
    async with rt.db() as db:
        person = await get_person_by_email(db, email=VICTIM, with_password=True)
    assert person is not None
    assert person.verified is True and person.password_hash is None
    # The same Google account signs the victim in again, into the same account.
    again = await client.post("/social/google", json=sign_in_body(providers, "google", VICTIM, "1"))
    assert (await again.get_json())["user"]["entity_id"] == person.entity_id
    assert len(await emails(rt, event=TAKEN_OVER, to=VICTIM)) == 1


def _active(model: type[OtpMethod] | type[RecoveryCode], person_id: str) -> object:
    return select(func.count()).where(model.person_id == person_id, model.active.is_(True))


def _inactive(model: type[LoginMethod], person_id: str) -> object:
    return select(func.count()).where(model.person_id == person_id, model.active.is_(False))


async def test_a_takeover_removes_the_attackers_passkeys(
    client: Client, rt: Runtime, providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = await _prepare(client, rt, providers, monkeypatch, with_mfa=False)
    authenticator = SoftAuthenticator(origin=ORIGIN)
    await register(client, auth(attacker.token), authenticator)
    assert (await passkey_login(client, authenticator)).status_code == 200

    response = await client.post(
        "/social/google", json=sign_in_body(providers, "google", VICTIM, "1")
    )
    assert response.status_code == 200, await response.get_json()
    victim = auth((await response.get_json())["user"]["access_token"])

    # The attacker's passkey no longer signs anybody in, and the victim has none.
    await json_error(await passkey_login(client, authenticator), 401)
    assert (await (await client.get("/passkeys", headers=victim)).get_json())["passkeys"] == []
