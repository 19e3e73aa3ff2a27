"""A takeover by a provider ends the attacker's cached token at once, not when the token
cache would have let it go."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.social.test_takeover import VICTIM, _prepare
from tests.support.http import auth, json_error
from tests.support.social import sign_in_body


@pytest.fixture
def settings(make_settings: Callable[..., Settings], providers: FakeProviders) -> Settings:
    overrides = providers.settings_overrides()
    return make_settings(provider_timeout=5.0, session_cache_seconds=3600, **overrides)


async def test_a_takeover_ends_the_attackers_cached_token_at_once(
    client: Client, rt: Runtime, providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    attacker = await _prepare(client, rt, providers, monkeypatch, with_mfa=False)
    assert (await client.get("/me", headers=auth(attacker.token))).status_code == 200
    response = await client.post(
        "/social/google", json=sign_in_body(providers, "google", VICTIM, "1")
    )
    assert response.status_code == 200
    await json_error(await client.get("/me", headers=auth(attacker.token)), 401)
    await json_error(await client.get("/auth/check", headers=auth(attacker.token)), 401)
