"""Session-test fixtures."""

from __future__ import annotations

import uuid

import pytest

from quart_template.sessions import bus


@pytest.fixture
def channel(monkeypatch: pytest.MonkeyPatch) -> str:
    """A Redis channel of this test's own."""
    name = f"qt_test_sessions_{uuid.uuid4().hex}"
    monkeypatch.setattr(bus, "CHANNEL", name)
    return name
