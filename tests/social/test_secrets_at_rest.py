"""Audit copies of login methods keep no provider token."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.accounts.models import LoginMethod
from quart_template.entities import REDACTED
from quart_template.runtime import Runtime
from tests.fakes.providers import FakeProviders
from tests.support.at_rest import audit_values, table_text


async def test_a_new_provider_token_leaves_the_old_one_out_of_the_audit(
    client: Client, rt: Runtime, providers: FakeProviders
) -> None:
    for _ in range(2):  # the second sign-in stores the provider's new token: a new version
        code = providers.github_account(1, email="ada@example.com")
        assert (await client.post("/social/github", json={"code": code})).status_code == 200
    async with rt.db() as db:
        method_id = (
            await db.execute(select(LoginMethod.entity_id).where(LoginMethod.provider == "github"))
        ).scalar_one()
    assert await audit_values(rt, "login_method", "access_token", entity_id=method_id) == [REDACTED]
    assert "v2:" not in await table_text(rt, "login_method_audit")
    assert "v2:" in await table_text(rt, "login_method")  # the current row keeps its token
