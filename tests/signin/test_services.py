"""The sign-in steps are plain async functions: they run without any HTTP request, given the
runtime and the client they are told of."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from quart import has_request_context
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quart_template.accounts.models import Person
from quart_template.db import new_entity_id, utcnow
from quart_template.errors import TooManyRequests, Unauthorized
from quart_template.passkeys.models import Passkey
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.sessions.models import AuthSession
from quart_template.signin.outcomes import SecondFactorNeeded, SignedIn
from quart_template.signin.password import log_in
from quart_template.signin.responses import sign_in_response
from tests.support.factories import DEFAULT_PASSWORD, create_person

CLIENT = ClientInfo(ip="203.0.113.7", user_agent="service-test/1.0")


async def test_log_in_without_a_request_records_the_client_it_was_given(rt: Runtime) -> None:
    person = await create_person(rt)
    assert not has_request_context()
    outcome = await log_in(rt, email=person.email, password=DEFAULT_PASSWORD, client=CLIENT)
    assert isinstance(outcome, SignedIn)
    assert outcome.person.entity_id == person.entity_id
    async with rt.db() as db:
        row = (await db.execute(select(AuthSession))).scalar_one()
    assert (row.ip, row.user_agent) == ("203.0.113.7", "service-test/1.0")
    body = sign_in_response(outcome).model_dump()
    assert body["user"]["access_token"] == outcome.token.access_token
    assert body["user"]["email"] == person.email


async def test_failures_count_against_the_given_address(rt: Runtime) -> None:
    person = await create_person(rt)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await log_in(rt, email=person.email, password="wrong password", client=CLIENT)
    with pytest.raises(TooManyRequests):
        await log_in(rt, email=person.email, password=DEFAULT_PASSWORD, client=CLIENT)


async def test_an_mfa_person_gets_the_second_factor_step(rt: Runtime) -> None:
    person = await create_person(rt)
    async with rt.db() as db, db.begin():
        current = await db.merge(person)
        current.mfa_enabled = True
    outcome = await log_in(rt, email=person.email, password=DEFAULT_PASSWORD, client=CLIENT)
    assert isinstance(outcome, SecondFactorNeeded) and outcome.mfa_token
    body = sign_in_response(outcome).model_dump(exclude_none=True)
    assert body == {
        "success": True,
        "user": {"mfa_enabled": True, "email": person.email, "verified": True},
        "mfa_token": outcome.mfa_token,
    }


async def test_a_password_changed_while_it_was_checked_signs_nobody_in(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reset or takeover that lands during the (slow) hash check wins: no session."""
    from quart_template.signin import password as password_step

    person = await create_person(rt)
    real_verify = password_step.verify_password

    async def verify_then_reset(*args: Any, **kwargs: Any) -> Any:
        result = await real_verify(*args, **kwargs)
        async with rt.db() as db, db.begin():
            current = await db.get_one(Person, person.entity_id)
            current.password_hash = None  # e.g. a provider took the account over meanwhile
        return result

    monkeypatch.setattr(password_step, "verify_password", verify_then_reset)
    with pytest.raises(Unauthorized):
        await log_in(rt, email=person.email, password=DEFAULT_PASSWORD, client=CLIENT)
    async with rt.db() as db:
        assert (await db.execute(select(AuthSession))).first() is None


def _meanwhile(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, change: Callable[[AsyncSession], Awaitable[None]]
) -> None:
    """`change` is committed while the password is being checked (after the first read)."""
    from quart_template.signin import password as password_step

    real_verify = password_step.verify_password

    async def verify_then_change(*args: Any, **kwargs: Any) -> Any:
        result = await real_verify(*args, **kwargs)
        async with rt.db() as db, db.begin():
            await change(db)
        return result

    monkeypatch.setattr(password_step, "verify_password", verify_then_change)


async def test_mfa_turned_on_while_the_password_was_checked_asks_for_the_second_factor(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await create_person(rt)

    async def turn_mfa_on(db: AsyncSession) -> None:
        (await db.get_one(Person, person.entity_id)).mfa_enabled = True

    _meanwhile(rt, monkeypatch, turn_mfa_on)
    outcome = await log_in(rt, email=person.email, password=DEFAULT_PASSWORD, client=CLIENT)
    assert isinstance(outcome, SecondFactorNeeded) and not outcome.passkey
    assert sign_in_response(outcome).model_dump()["user"]["mfa_enabled"] is True
    async with rt.db() as db:
        assert (await db.execute(select(AuthSession))).first() is None


async def test_a_passkey_added_while_the_password_was_checked_is_asked_for(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = await create_person(rt)

    async def add_passkey(db: AsyncSession) -> None:
        db.add(
            Passkey(
                entity_id=new_entity_id(),
                person_id=person.entity_id,
                name="laptop",
                credential_id="Y3JlZA",
                credential_key="0" * 64,
                public_key="a2V5",
                created_at=utcnow(),
                changed_by_id=person.entity_id,
            )
        )

    _meanwhile(rt, monkeypatch, add_passkey)
    outcome = await log_in(rt, email=person.email, password=DEFAULT_PASSWORD, client=CLIENT)
    assert isinstance(outcome, SecondFactorNeeded) and outcome.passkey
    async with rt.db() as db:
        assert (await db.execute(select(AuthSession))).first() is None
