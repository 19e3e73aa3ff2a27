"""The social tests run against the fake providers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from quart_template.settings import Settings
from tests.fakes.providers import FakeProviders


@pytest.fixture
async def providers() -> AsyncIterator[FakeProviders]:
    fake = FakeProviders()
    fake.google_key("k1")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], providers: FakeProviders) -> Settings:
    return make_settings(provider_timeout=5.0, **providers.settings_overrides())
