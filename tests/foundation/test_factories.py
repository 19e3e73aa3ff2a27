"""The shared factories produce a usable signed-in person."""

from __future__ import annotations

from quart_template.runtime import Runtime
from quart_template.sessions.check import check_token
from tests.support.factories import signed_in


async def test_signed_in_person_token_authenticates(rt: Runtime) -> None:
    user = await signed_in(rt)
    found = await check_token(rt, user.token)
    assert found is not None
    assert found.person.entity_id == user.person.entity_id
    assert await check_token(rt, user.token + "x") is None
