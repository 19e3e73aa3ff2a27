"""Two real instances (`quart-template serve` processes) on one database, one Redis and one
RabbitMQ exchange, as a deployment runs them behind a load balancer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from quart_template.db import make_engine
from tests.events.conftest import consumer, exchange_name  # noqa: F401 - fixtures used here
from tests.gateway.conftest import REDIS_URL, app_env
from tests.gateway.processes import AppServer
from tests.support.backends import database_for_processes

# The load comes from one address: only the per-account limits are under test here.
GENEROUS = {
    "LOGIN_LIMIT_PER_IP": "1000000/15minutes",
    "LOGIN_LIMIT_PER_ACCOUNT_ALL_IPS": "1000000/hour",
    "TRUSTED_PROXIES": "",
}

StartPair = Callable[..., tuple[AppServer, AppServer]]


@pytest.fixture
def shared_database(tmp_path: Path, _mysql_schema: None) -> str:
    """One database for both instances."""
    return database_for_processes(tmp_path)


@pytest.fixture
def start_pair(
    tmp_path: Path,
    shared_database: str,
    amqp_url: str,
    exchange_name: str,  # noqa: F811
) -> Iterator[StartPair]:
    """Starts instances A and B (B always one process; A with `workers` processes), both with
    their in-app relay publishing to the test's exchange; stops whatever is still running."""
    if not REDIS_URL:
        pytest.skip("instances share rate limits and revocations through Redis: TEST_REDIS_URL")
    started: list[AppServer] = []

    def start(workers: int = 1, **extra: str) -> tuple[AppServer, AppServer]:
        pair = []
        for name, count in (("a", workers), ("b", 1)):
            env = app_env(tmp_path / name, shared_database) | GENEROUS | extra
            env |= {"AMQP_URL": amqp_url, "MQ_EXCHANGE": exchange_name, "LOG_LEVEL": "INFO"}
            server = AppServer(tmp_path / name, env, workers=count)
            server.start()
            started.append(server)
            pair.append(server)
        for server in pair:
            server.wait_ready()
        return pair[0], pair[1]

    yield start
    for server in started:
        server.stop()


async def outbox_state(database_url: str) -> dict[str, str]:
    """message_id → status of every RabbitMQ outbox row."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT message_id, status FROM outbox WHERE destination = 'rabbitmq'")
            )
            return {message_id: status for message_id, status in rows}
    finally:
        await engine.dispose()
