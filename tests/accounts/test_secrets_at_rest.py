"""What the database keeps after the account flows: no password hash in audit copies, no live
verification or reset link in the outbox once the email went out."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from quart_template.accounts.models import Person
from quart_template.entities import REDACTED
from quart_template.events.outbox import EMAIL, SENT
from quart_template.runtime import Runtime
from tests.support.accounts import reset_link, signup_link
from tests.support.at_rest import audit_values, table_text
from tests.support.events import outbox_rows
from tests.support.factories import DEFAULT_PASSWORD, create_person, signed_in

NEW_PASSWORD = "a brand new passphrase"


async def _delivered(rt: Runtime) -> None:
    """Wait until every email went out."""
    assert rt.relay is not None
    await rt.relay.drain()
    assert {row.status for row in await outbox_rows(rt, EMAIL)} == {SENT}


async def test_a_password_change_leaves_no_hash_in_the_audit_copy(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    response = await client.post(
        "/update_password",
        json={"existing_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert response.status_code == 200
    entity_id = user.person.entity_id
    assert await audit_values(rt, "person", "password_hash", entity_id=entity_id) == [REDACTED]
    assert "$argon2" not in await table_text(rt, "person_audit")
    assert "$argon2id$" in await table_text(rt, "person")  # the current row keeps its hash


async def test_no_password_stays_null_in_the_audit_copy(rt: Runtime) -> None:
    person = await create_person(rt, password=None)
    async with rt.db() as db, db.begin():
        (await db.get_one(Person, person.entity_id)).first_name = "Augusta"
    assert await audit_values(rt, "person", "password_hash", entity_id=person.entity_id) == [None]


async def test_a_delivered_verification_email_leaves_no_link_in_the_outbox(
    client: Client, rt: Runtime
) -> None:
    token, uidb64 = await signup_link(client, rt)
    await _delivered(rt)
    assert token not in await table_text(rt, "outbox")
    assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 200


async def test_a_reset_leaves_neither_link_nor_hash_behind(client: Client, rt: Runtime) -> None:
    person = await create_person(rt)
    token, uidb64 = await reset_link(client, rt)
    await _delivered(rt)
    assert token not in await table_text(rt, "outbox")
    response = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    audited = await audit_values(rt, "person", "password_hash", entity_id=person.entity_id)
    assert audited and set(audited) == {REDACTED}
