"""The shared factories produce a usable signed-in person."""

from __future__ import annotations

from quart_template.runtime import Runtime
from quart_template.sessions.service import authenticate_token
from tests.support.factories import signed_in


async def test_signed_in_person_token_authenticates(rt: Runtime) -> None:
    user = await signed_in(rt)
    async with rt.db() as db, db.begin():
        found = await authenticate_token(db, settings=rt.settings, token=user.token)
    assert found is not None
    assert found[0].entity_id == user.person.entity_id
    async with rt.db() as db, db.begin():
        assert await authenticate_token(db, settings=rt.settings, token=user.token + "x") is None
