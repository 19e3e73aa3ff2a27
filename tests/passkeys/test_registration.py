"""Registering a passkey: options bound to the caller, the authenticator's answer checked
(origin, RP ID, a live single-use challenge), the passkey stored, listed and announced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.passkeys.models import Passkey, passkey_audit
from quart_template.runtime import Runtime
from tests.support.accounts import emails
from tests.support.events import outbox_rows
from tests.support.factories import PersonWithToken, signed_in
from tests.support.http import json_error
from tests.support.passkeys import expire_challenges, register, registration_options
from tests.support.reauth import REAUTH_MESSAGE, age_proofs
from tests.support.webauthn import SoftAuthenticator


async def _finish(client: Client, user: PersonWithToken, credential: dict) -> object:
    return await client.post(
        "/passkeys/register", json={"credential": credential}, headers=user.headers
    )


async def test_options_prefer_a_resident_key_and_user_verification(
    client: Client, user: PersonWithToken
) -> None:
    response = await client.post("/passkeys/register/options", headers=user.headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    options = await response.get_json()
    assert options["success"] is True
    assert options["rp"] == {"id": "frontend.test", "name": "Quart Template"}
    assert options["user"]["name"] == user.person.email
    assert options["user"]["displayName"] == "Ada Lovelace"
    assert user.person.email not in options["user"]["id"]
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["excludeCredentials"] == []
    assert options["timeout"] == 300_000
    assert {"type": "public-key", "alg": -7} in options["pubKeyCredParams"]


async def test_register_list_and_announce(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    stored = await register(client, user.headers, authenticator, name="Laptop")
    assert set(stored) == {"success", "id", "name", "created", "last_used"}
    assert stored["name"] == "Laptop" and stored["last_used"] is None
    response = await client.get("/passkeys", headers=user.headers)
    listed = await response.get_json()
    assert listed == {
        "success": True,
        "passkeys": [{k: v for k, v in stored.items() if k != "success"}],
    }
    sent = await emails(rt, event="PASSKEY_ADDED", to=user.person.email)
    assert sent and sent[-1]["data"] == {"recipient_name": "Ada", "passkey_name": "Laptop"}
    events = await (await client.get("/security_events", headers=user.headers)).get_json()
    assert "passkey_added" in [e["type"] for e in events["events"]]
    # The next options exclude it, so an authenticator that holds it says so.
    options = await registration_options(client, user.headers)
    assert [c["id"] for c in options["excludeCredentials"]] == [authenticator.credentials[0].id]


async def test_unnamed_passkeys_get_a_name(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    assert (await register(client, user.headers, authenticator))["name"] == "Passkey"


async def test_the_entity_is_versioned_with_events_and_no_secret(
    serve: Callable[..., Any], authenticator: SoftAuthenticator
) -> None:
    # Pusher configured but no relay running: the entity events stay in the outbox to read.
    client = await serve(
        pusher_app_id="1", pusher_api_key="key", pusher_api_secret="secret", relay_in_app=False
    )
    rt: Runtime = client.app.extensions["runtime"]  # type: ignore[attr-defined]
    user = await signed_in(rt)
    stored = await register(client, user.headers, authenticator)
    response = await client.delete(f"/passkeys/{stored['id']}", headers=user.headers)
    assert response.status_code == 200
    rows = [row for row in await outbox_rows(rt) if row.entity == "passkey"]
    assert [row.action for row in rows] == ["create", "update"]
    body = rows[0].body()
    assert body["data"] == {
        "entity_id": stored["id"],
        "person_id": user.person.entity_id,
        "name": "Passkey",
        "created": stored["created"],
        "backup_eligible": False,
        "backed_up": False,
        "active": True,
        "version": 1,
    }
    async with rt.db() as db, db.begin():
        history = (await db.execute(select(passkey_audit))).all()
        current = (await db.execute(select(Passkey))).scalar_one()
    assert len(history) == 1 and history[0].version == 1 and history[0].public_key
    assert current.version == 2 and current.active is False and current.credential_key is None


async def test_a_recent_proof_is_required(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    options = await registration_options(client, user.headers)
    await age_proofs(rt, user.person.entity_id)
    body = await json_error(
        await client.post("/passkeys/register/options", headers=user.headers), 403
    )
    assert body["reauth_required"] is True and body["message"] == REAUTH_MESSAGE
    await json_error(await _finish(client, user, authenticator.create(options)), 403)
    assert (await client.get("/passkeys", headers=user.headers)).status_code == 200


async def test_signing_in_is_required(client: Client) -> None:
    await json_error(await client.post("/passkeys/register/options"), 401)
    await json_error(await client.get("/passkeys"), 401)


async def test_wrong_origin_or_rp_id_is_refused(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    options = await registration_options(client, user.headers)
    phished = authenticator.create(options, origin="https://frontend.test.evil.example")
    await json_error(await _finish(client, user, phished), 400)
    options = await registration_options(client, user.headers)
    other_rp = authenticator.create(options, rp_id="evil.example")
    await json_error(await _finish(client, user, other_rp), 400)
    assert (await (await client.get("/passkeys", headers=user.headers)).get_json())[
        "passkeys"
    ] == []


async def test_a_challenge_works_once(
    client: Client, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    options = await registration_options(client, user.headers)
    credential = authenticator.create(options)
    assert (await _finish(client, user, credential)).status_code == 201
    body = await json_error(await _finish(client, user, credential), 400)
    assert "challenge" in body["message"]
    again = authenticator.create(options)  # another credential, the spent challenge
    await json_error(await _finish(client, user, again), 400)


async def test_an_expired_challenge_is_refused(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    options = await registration_options(client, user.headers)
    await expire_challenges(rt)
    await json_error(await _finish(client, user, authenticator.create(options)), 400)


async def test_another_persons_challenge_is_refused(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    other = await signed_in(rt, email="eve@example.com")
    options = await registration_options(client, user.headers)
    await json_error(await _finish(client, other, authenticator.create(options)), 400)


async def test_one_credential_is_registered_once(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    options = await registration_options(client, user.headers)
    credential = authenticator.create(options)
    assert (await _finish(client, user, credential)).status_code == 201
    again = authenticator.create(
        await registration_options(client, user.headers), again=authenticator.credentials[0]
    )
    await json_error(await _finish(client, user, again), 409)
    other = await signed_in(rt, email="eve@example.com")
    options = await registration_options(client, other.headers)
    stolen = authenticator.create(options, again=authenticator.credentials[0])
    await json_error(await _finish(client, other, stolen), 409)


async def test_garbage_is_a_clear_400(client: Client, user: PersonWithToken) -> None:
    for credential in ({}, {"id": "x", "rawId": "x", "type": "public-key", "response": {}}):
        await json_error(await _finish(client, user, credential), 400)
