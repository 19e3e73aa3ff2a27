"""A social sign-in that issues a token completes a sign-in: it clears the account's guessing
counters like a password login does."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from tests.fakes.providers import FakeProviders
from tests.support.accounts import log_in
from tests.support.http import json_error, retry_after

GUESSER = {"scope_base": {"client": ("203.0.113.66", 40000)}}


async def test_a_social_sign_in_clears_the_account_counters(
    client: Client, providers: FakeProviders
) -> None:
    first = await client.post(
        "/social/github", json={"code": providers.github_account(7, email="ada@example.com")}
    )
    assert first.status_code == 200
    for _ in range(5):
        await json_error(await log_in(client, "ada@example.com", "a guess", **GUESSER), 401)
    await retry_after(await log_in(client, "ada@example.com", "a guess", **GUESSER))
    again = await client.post(
        "/social/github", json={"code": providers.github_account(7, email="ada@example.com")}
    )
    assert again.status_code == 200 and "access_token" in (await again.get_json())["user"]
    await json_error(await log_in(client, "ada@example.com", "a guess", **GUESSER), 401)
