"""Housekeeping tests run on an app that delivers nothing by itself (no relay touching the
outbox rows they make) and whose in-app task never starts unless a test asks for it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quart_template.settings import Settings


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(relay_in_app=False, housekeeping_interval=0)
