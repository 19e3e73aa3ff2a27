"""Two instances of the service on one database: a token revoked through one is refused
through the other within 1 s with Redis (the revocation is announced), within
SESSION_CACHE_SECONDS without it (the other's entry expires), and a Redis blip never leaves
a revoked token cached (a new subscription drops the cache)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from quart_template.sessions import bus
from quart_template.settings import Settings
from tests.fakes.tcp_proxy import TcpProxy
from tests.support.accounts import access_token, log_in
from tests.support.factories import signed_in
from tests.support.http import auth
from tests.support.instances import (
    LONG,
    WITH_REDIS,
    instances,
    logout_reaches,
    refused_within,
    until,
)
from tests.support.network import free_port, via_port
from tests.test_ratelimit_redis import TEST_REDIS_URL

needs_redis = pytest.mark.skipif(not TEST_REDIS_URL, reason="no Redis: set TEST_REDIS_URL")


@needs_redis
@pytest.mark.parametrize("how", ["logout", "session delete", "password change"])
async def test_a_revocation_reaches_the_other_instance_within_a_second(
    make_settings: Callable[..., Settings], channel: str, how: str
) -> None:
    settings = make_settings(redis_url=TEST_REDIS_URL, session_cache_seconds=LONG)
    async with instances(settings, settings) as (one, other):
        user = await signed_in(one.rt)
        second = auth(await access_token(await log_in(one.client)))
        doomed = user.headers if how != "password change" else second
        checked = await other.client.get("/auth/check", headers=doomed)
        assert checked.status_code == 200  # now cached by the other instance
        if how == "logout":
            revoked = await one.client.post("/logout", headers=doomed)
        elif how == "session delete":
            session_id = checked.headers["X-Session-Id"]
            revoked = await one.client.delete(f"/sessions/{session_id}", headers=second)
        else:
            body = {"existing_password": user.password, "new_password": "a brand new passphrase"}
            revoked = await one.client.post("/update_password", json=body, headers=user.headers)
        assert revoked.status_code == 200
        await refused_within(WITH_REDIS, lambda: other.client.get("/me", headers=doomed))


async def test_without_redis_the_other_instance_refuses_within_session_cache_seconds(
    make_settings: Callable[..., Settings],
) -> None:
    seconds = 0.3
    settings = make_settings(redis_url=None, session_cache_seconds=seconds)
    async with instances(settings, settings) as (one, other):
        # The other instance's entry may be up to `seconds` old; some slack for a busy machine.
        await logout_reaches(one, other, within=seconds + 0.5)


@needs_redis
async def test_after_a_redis_blip_the_other_instance_forgets_what_it_may_have_missed(
    make_settings: Callable[..., Settings], channel: str
) -> None:
    target = urlsplit(TEST_REDIS_URL or "")
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    via_proxy = via_port(TEST_REDIS_URL or "", proxy.port)
    direct = make_settings(redis_url=TEST_REDIS_URL, session_cache_seconds=LONG)
    cut_off = make_settings(redis_url=via_proxy, session_cache_seconds=LONG)
    try:
        async with instances(direct, cut_off) as (one, other):
            listener = other.rt.session_bus
            assert listener is not None
            user = await signed_in(one.rt)
            assert (await other.client.get("/me", headers=user.headers)).status_code == 200
            await proxy.cut()
            await until(lambda: not listener.subscribed.is_set())
            # Announced while the other instance cannot hear it.
            assert (await one.client.post("/logout", headers=user.headers)).status_code == 200
            await proxy.restore()
            await asyncio.wait_for(listener.subscribed.wait(), timeout=15)
            response = await other.client.get("/me", headers=user.headers)
            assert response.status_code == 401
    finally:
        await proxy.cut()


async def test_an_unreachable_redis_delays_nothing_and_warns_once(
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts = 0
    listen = bus.RevocationBus._listen

    async def counted(self: bus.RevocationBus) -> None:
        nonlocal attempts
        attempts += 1
        await listen(self)

    monkeypatch.setattr(bus, "RECONNECT_SECONDS", (0.01,))
    monkeypatch.setattr(bus.RevocationBus, "_listen", counted)
    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with instances(settings, wait_for_redis=False) as (alone,):
        user = await signed_in(alone.rt)
        for _ in range(3):
            assert (await alone.client.get("/me", headers=user.headers)).status_code == 200
        assert (await alone.client.post("/logout", headers=user.headers)).status_code == 200
        assert (await alone.client.get("/me", headers=user.headers)).status_code == 401
        await until(lambda: attempts >= 3)
        assert alone.rt.session_bus is not None
        assert not alone.rt.session_bus.subscribed.is_set()
    assert _events(caplog, "session_bus_down") == 1
    assert _events(caplog, "session_revocation_unsent") == 1


def _events(caplog: pytest.LogCaptureFixture, name: str) -> int:
    return sum(1 for record in caplog.records if getattr(record, "event", None) == name)
