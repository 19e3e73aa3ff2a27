"""Rate limits in the real Redis (TEST_REDIS_URL, else a Redis answering on 127.0.0.1:6379):
counters are shared by every instance of the service."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from quart.typing import TestClientProtocol as Client
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from quart_template import ratelimit
from quart_template.ratelimit import CredentialLimiter
from quart_template.ratelimit_store import redis_storage
from quart_template.settings import Settings
from tests.fakes.tcp_proxy import TcpProxy
from tests.test_ratelimit import RIGHT, attempt, limited_app

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def _local_redis() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), 1):
            return LOCAL_REDIS_URL
    except OSError:
        return None


# Set but unreachable fails the tests (never a skip); unset uses a local Redis when one answers.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or _local_redis()

pytestmark = pytest.mark.skipif(not TEST_REDIS_URL, reason="no Redis: set TEST_REDIS_URL")


@pytest.fixture
async def key_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"qt_acore_test_{uuid.uuid4().hex}"
    yield prefix
    storage = redis_storage(TEST_REDIS_URL or "", key_prefix=prefix)
    await storage.reset()


@asynccontextmanager
async def instance(settings: Settings, key_prefix: str) -> AsyncIterator[Client]:
    """One running instance of the service whose limiter uses the test's key prefix."""
    app = limited_app(settings)
    async with app.test_app() as test_app:
        limiter = CredentialLimiter(settings, key_prefix=key_prefix)
        assert limiter.shared
        rt = app.extensions["runtime"]
        await rt.limiter.aclose()
        rt.limiter = limiter
        yield test_app.test_client()


async def test_two_instances_share_the_counters(
    make_settings: Callable[..., Settings], key_prefix: str
) -> None:
    settings = make_settings(redis_url=TEST_REDIS_URL)
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(instance(settings, key_prefix))
        second = await stack.enter_async_context(instance(settings, key_prefix))
        for n in range(5):
            client = first if n % 2 else second
            assert (await attempt(client, "ada@example.com", ip="1.1.1.1")).status_code == 401
        for client in (first, second):
            refused = await attempt(client, "ada@example.com", RIGHT, ip="1.1.1.1")
            assert refused.status_code == 429
            assert 895 <= int(refused.headers["Retry-After"]) <= 900
        assert (await attempt(first, "bob@example.com", RIGHT, ip="1.1.1.1")).status_code == 200


async def test_the_account_limit_from_all_addresses_is_shared(
    make_settings: Callable[..., Settings], key_prefix: str
) -> None:
    settings = make_settings(redis_url=TEST_REDIS_URL, login_limit_per_account_all_ips="6/hour")
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(instance(settings, key_prefix))
        second = await stack.enter_async_context(instance(settings, key_prefix))
        for n in range(6):
            client = first if n % 2 else second
            assert (await attempt(client, "ada@example.com", ip=f"1.1.1.{n}")).status_code == 401
        for client in (first, second):
            refused = await attempt(client, "ada@example.com", RIGHT, ip="2.2.2.2")
            assert refused.status_code == 429


async def test_a_sign_in_on_one_instance_clears_the_account_on_every_instance(
    make_settings: Callable[..., Settings], key_prefix: str
) -> None:
    settings = make_settings(redis_url=TEST_REDIS_URL, login_limit_per_account_all_ips="6/hour")
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(instance(settings, key_prefix))
        second = await stack.enter_async_context(instance(settings, key_prefix))
        for _ in range(5):
            await attempt(first, "ada@example.com", ip="1.1.1.1")
        assert (await attempt(first, "ada@example.com", RIGHT, ip="1.1.1.1")).status_code == 429
        assert (await attempt(second, "ada@example.com", RIGHT, ip="2.2.2.2")).status_code == 200
        assert (await attempt(first, "ada@example.com", RIGHT, ip="1.1.1.1")).status_code == 200
        # the account budget from all addresses is whole again too
        for n in range(5):
            assert (await attempt(first, "ada@example.com", ip=f"3.3.3.{n}")).status_code == 401
        assert (await attempt(second, "ada@example.com", RIGHT, ip="2.2.2.2")).status_code == 200


async def test_counters_outlive_an_instance(
    make_settings: Callable[..., Settings], key_prefix: str
) -> None:
    settings = make_settings(redis_url=TEST_REDIS_URL)
    async with instance(settings, key_prefix) as client:
        for _ in range(5):
            await attempt(client, "ada@example.com")
    async with instance(settings, key_prefix) as client:
        assert (await attempt(client, "ada@example.com", RIGHT)).status_code == 429


async def test_redis_going_away_falls_back_to_memory_with_one_warning_and_comes_back(
    make_settings: Callable[..., Settings],
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = make_url(TEST_REDIS_URL or "")
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 6379)
    await proxy.start()
    through = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    monkeypatch.setattr(ratelimit, "REDIS_RETRY_SECONDS", 0.0)  # try Redis again at once
    redis = Redis.from_url(TEST_REDIS_URL or "")

    async def stored() -> int:
        return len(await redis.keys(f"{key_prefix}*"))

    try:
        async with instance(make_settings(redis_url=through), key_prefix) as client:
            assert (await attempt(client, "ada@example.com", ip="1.1.1.1")).status_code == 401
            in_redis = await stored()
            assert in_redis > 0
            with caplog.at_level(logging.INFO, logger="quart_template.ratelimit"):
                await proxy.cut()
                # Still limited, from this process's memory: 5 failures, then 429; never a 500.
                statuses = [
                    (await attempt(client, "bob@example.com", ip="1.1.1.1")).status_code
                    for _ in range(6)
                ]
                assert statuses == [401] * 5 + [429]
                assert await stored() == in_redis  # nothing reached Redis meanwhile
                await proxy.restore()
                assert (await attempt(client, "cy@example.com", ip="1.1.1.1")).status_code == 401
            assert await stored() > in_redis  # counting in Redis again
            events = [getattr(r, "event", None) for r in caplog.records]
            assert events.count("ratelimit_store_fallback") == 1
            assert events.count("ratelimit_store_back") == 1
    finally:
        await proxy.cut()
        await redis.aclose()
