"""The real RabbitMQ for tests: TEST_AMQP_URL (in CI; unreachable fails the run), else a local
broker when one answers on 127.0.0.1:5672, else the test is skipped with the reason."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def reachable(url: str) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """TEST_AMQP_URL (CI: unreachable fails), else the local broker, else skip."""
    configured = os.environ.get("TEST_AMQP_URL")
    if configured:
        if not reachable(configured):
            pytest.fail(f"TEST_AMQP_URL is set but the broker does not answer: {configured}")
        return configured
    if not reachable(LOCAL_AMQP_URL):
        pytest.skip("no RabbitMQ: set TEST_AMQP_URL or run one on 127.0.0.1:5672")
    return LOCAL_AMQP_URL
