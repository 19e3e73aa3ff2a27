"""Removing a passkey: the caller's own only, never the last way to sign in, with a recent
proof, and the owner told."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from tests.support.accounts import emails
from tests.support.factories import PersonWithToken, signed_in
from tests.support.http import json_error
from tests.support.passkeys import ORIGIN, register
from tests.support.reauth import age_proofs
from tests.support.webauthn import SoftAuthenticator


async def test_remove_a_passkey(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    stored = await register(client, user.headers, authenticator, name="Phone")
    response = await client.delete(f"/passkeys/{stored['id']}", headers=user.headers)
    assert response.status_code == 200
    assert await response.get_json() == {"success": True, "message": "Passkey is deleted"}
    assert (await (await client.get("/passkeys", headers=user.headers)).get_json())[
        "passkeys"
    ] == []
    sent = await emails(rt, event="PASSKEY_REMOVED", to=user.person.email)
    assert sent and sent[-1]["data"]["passkey_name"] == "Phone"
    events = await (await client.get("/security_events", headers=user.headers)).get_json()
    assert "passkey_removed" in [e["type"] for e in events["events"]]
    await json_error(await client.delete(f"/passkeys/{stored['id']}", headers=user.headers), 400)


async def test_only_the_callers_own(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    stored = await register(client, user.headers, authenticator)
    eve = await signed_in(rt, email="eve@example.com")
    body = await json_error(
        await client.delete(f"/passkeys/{stored['id']}", headers=eve.headers), 400
    )
    assert body["message"] == f"This user doesn't have passkey {stored['id']}"
    assert (
        len((await (await client.get("/passkeys", headers=user.headers)).get_json())["passkeys"])
        == 1
    )


async def test_the_last_way_to_sign_in_stays(client: Client, rt: Runtime) -> None:
    # Somebody with no password and no provider account: passkeys are all they have.
    user = await signed_in(rt, email="keys@example.com", password=None, with_signup_method=False)
    first, second = SoftAuthenticator(origin=ORIGIN), SoftAuthenticator(origin=ORIGIN)
    one = await register(client, user.headers, first)
    two = await register(client, user.headers, second)
    assert (await client.delete(f"/passkeys/{one['id']}", headers=user.headers)).status_code == 200
    body = await json_error(
        await client.delete(f"/passkeys/{two['id']}", headers=user.headers), 409
    )
    assert "last way to sign in" in body["message"]


async def test_a_passkey_counts_as_a_way_to_sign_in_for_unlinking(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    await register(client, user.headers, authenticator)
    methods = await (await client.get("/social", headers=user.headers)).get_json()
    signup = methods["login_methods"][0]["profile"]["entity_id"]
    # Password sign-in may go: the passkey still signs this person in.
    assert (await client.delete(f"/social/{signup}", headers=user.headers)).status_code == 200


async def test_a_recent_proof_is_required(
    client: Client, rt: Runtime, user: PersonWithToken, authenticator: SoftAuthenticator
) -> None:
    stored = await register(client, user.headers, authenticator)
    await age_proofs(rt, user.person.entity_id)
    body = await json_error(
        await client.delete(f"/passkeys/{stored['id']}", headers=user.headers), 403
    )
    assert body["reauth_required"] is True
