"""Sign-up: a new person with a verification email; a known email answers the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select

from quart_template.accounts.models import LoginMethod, Person
from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.accounts import SIGNUP, emails, last_link, link_path, log_in
from tests.support.factories import DEFAULT_PASSWORD, create_person
from tests.support.http import json_error

SIGNED_UP = "User successfully created and a confirmation email has been sent via email."


async def _people(rt: Runtime, email: str) -> list[Person]:
    async with rt.db() as db:
        result = await db.execute(select(Person).where(func.lower(Person.email) == email.lower()))
        return list(result.scalars())


async def test_signup_creates_an_unverified_person_and_emails_a_link(
    client: Client, rt: Runtime
) -> None:
    response = await client.post("/signup", json=SIGNUP)
    assert response.status_code == 201
    assert await response.get_json() == {"success": True, "message": SIGNED_UP}
    [person] = await _people(rt, SIGNUP["email"])
    assert (person.first_name, person.last_name, person.verified) == ("Grace", "Hopper", False)
    async with rt.db() as db:
        methods = (await db.execute(select(LoginMethod))).scalars().all()
    assert [(m.person_id, m.provider) for m in methods] == [(person.entity_id, "signup")]
    link = await last_link(rt, event="USER_CREATED", to=SIGNUP["email"])
    assert link.startswith("http://frontend.test/session/login/")
    token, uidb64 = link_path(link, "login")
    assert token and uidb64 and "=" not in uidb64


async def test_signup_ignores_the_host_header_for_links(client: Client, rt: Runtime) -> None:
    await client.post("/signup", json=SIGNUP, headers={"Host": "evil.example"})
    link = await last_link(rt, event="USER_CREATED", to=SIGNUP["email"])
    assert link.startswith("http://frontend.test/") and "evil" not in link


async def test_unverified_person_can_log_in(client: Client, rt: Runtime) -> None:
    await client.post("/signup", json=SIGNUP)
    response = await log_in(client, SIGNUP["email"], SIGNUP["password"])
    assert response.status_code == 200
    user = (await response.get_json())["user"]
    assert user["verified"] is False and user["verified_on"] is None
    assert user["access_token"]


async def test_signup_of_a_known_email_answers_the_same_and_tells_the_owner(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt, email="grace@example.com")
    response = await client.post("/signup", json={**SIGNUP, "email": "Grace@Example.com"})
    assert response.status_code == 201
    assert await response.get_json() == {"success": True, "message": SIGNED_UP}
    assert len(await _people(rt, "grace@example.com")) == 1
    assert await emails(rt, event="USER_CREATED") == []
    [notice] = await emails(rt, event="ACCOUNT_EXISTS", to="grace@example.com")
    assert notice["data"]["login_link"].startswith("http://frontend.test/")
    # The original password still works; the sign-up's did not replace it.
    assert (await log_in(client, "grace@example.com", DEFAULT_PASSWORD)).status_code == 200
    assert (await log_in(client, "grace@example.com", SIGNUP["password"])).status_code == 401


async def test_repeated_signups_of_a_known_email_do_not_flood_the_owner(
    client: Client, rt: Runtime
) -> None:
    await create_person(rt, email="grace@example.com")
    for _ in range(8):
        response = await client.post("/signup", json={**SIGNUP, "email": "grace@example.com"})
        assert response.status_code == 201  # the answer never changes
    notices = await emails(rt, event="ACCOUNT_EXISTS", to="grace@example.com")
    assert len(notices) == 5  # EMAIL_LIMIT_PER_ADDRESS: 5 per hour


async def test_concurrent_signups_of_one_email_make_exactly_one_person(
    client: Client, rt: Runtime
) -> None:
    responses = await asyncio.gather(
        *(client.post("/signup", json={**SIGNUP, "first_name": f"G{i}"}) for i in range(10))
    )
    assert [r.status_code for r in responses] == [201] * 10
    assert len(await _people(rt, SIGNUP["email"])) == 1
    assert len(await emails(rt, event="USER_CREATED")) == 1


async def test_signup_rejects_unknown_fields(client: Client, rt: Runtime) -> None:
    for field in ("verified", "active", "mfa_enabled", "entity_id", "is_admin"):
        await json_error(await client.post("/signup", json={**SIGNUP, field: True}), 400)
    assert await _people(rt, SIGNUP["email"]) == []
    assert (await log_in(client, SIGNUP["email"], SIGNUP["password"])).status_code == 401


async def test_signup_validates_sizes_and_email(client: Client, rt: Runtime) -> None:
    bad_bodies = [
        {**SIGNUP, "first_name": "x" * 121},
        {**SIGNUP, "last_name": "x" * 121},
        {**SIGNUP, "email": "a" * 310 + "@example.com"},
        {**SIGNUP, "email": "not-an-email"},
        {**SIGNUP, "login_method": "github"},
        {k: v for k, v in SIGNUP.items() if k != "password"},
        {k: v for k, v in SIGNUP.items() if k != "email"},
        # Contract section 8: both names are required.
        {k: v for k, v in SIGNUP.items() if k != "first_name"},
        {k: v for k, v in SIGNUP.items() if k != "last_name"},
        {**SIGNUP, "last_name": None},
        # Strict types, as /openapi.json says: a number is no name.
        {**SIGNUP, "first_name": 12},
        {**SIGNUP, "password": 12345678},
    ]
    for body in bad_bodies:
        response = await client.post("/signup", json=body)
        assert response.status_code == 400, body
        assert (await response.get_json())["success"] is False
    # 120 characters, not bytes.
    ok = await client.post(
        "/signup", json={**SIGNUP, "first_name": "é" * 120, "last_name": "L" * 120}
    )
    assert ok.status_code == 201


async def test_signup_applies_the_password_policy(client: Client, rt: Runtime) -> None:
    for password in ("short", "x" * 129, "password", "12345678", "grace@example.com",
                     "GRACE@example.com"):  # fmt: skip
        response = await client.post("/signup", json={**SIGNUP, "password": password})
        assert response.status_code == 400, password
        body = await response.get_json()
        assert body["success"] is False and "assword" in body["message"]
    assert await _people(rt, SIGNUP["email"]) == []
    long_ok = await client.post("/signup", json={**SIGNUP, "password": "y" * 128})
    assert long_ok.status_code == 201


async def test_signup_needs_a_json_object(client: Client) -> None:
    response = await client.post("/signup", data="nope", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    response = await client.post("/signup", json=["a", "list"])
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Please use 'application/json'"


async def test_signup_succeeds_while_email_cannot_be_sent(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(email_backend="smtp", mail_server="127.0.0.1", mail_port=9)
    app = create_app(settings)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        response = await client.post("/signup", json=SIGNUP)
        assert response.status_code == 201
        assert await response.get_json() == {"success": True, "message": SIGNED_UP}
        runtime = app.extensions["runtime"]
        [email] = await emails(runtime, event="USER_CREATED")
        assert email["to_emails"] == [SIGNUP["email"]]
        forgot = await client.post("/forgot_password", json={"email": SIGNUP["email"]})
        assert forgot.status_code == 200


async def test_passwords_of_8_and_128_characters_sign_up_and_log_in(client: Client) -> None:
    for i, password in enumerate(("q7#kd9Lm", "z" * 60 + "ab" * 34)):
        assert len(password) in (8, 128)
        body = {**SIGNUP, "email": f"edge{i}@example.com", "password": password}
        assert (await client.post("/signup", json=body)).status_code == 201
        assert (await log_in(client, f"edge{i}@example.com", password)).status_code == 200


async def test_a_full_width_password_logs_in_typed_in_ascii(client: Client) -> None:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c != " " else c for c in "passphrase wide")
    assert (await client.post("/signup", json={**SIGNUP, "password": fullwidth})).status_code == 201
    assert (await log_in(client, SIGNUP["email"], "passphrase wide")).status_code == 200
