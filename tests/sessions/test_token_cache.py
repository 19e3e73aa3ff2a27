"""The token cache in one process: a checked token is believed without a query for a while,
but whatever ends its session or changes its person is seen by the very next request; a miss
costs one statement; SESSION_CACHE_SECONDS=0 turns it off; an expired session is never served."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import update

from quart_template.app import create_app
from quart_template.db import utcnow
from quart_template.runtime import Runtime
from quart_template.sessions import check
from quart_template.sessions.cache import SessionCache
from quart_template.sessions.caller import Caller, PersonSummary, SessionSummary
from quart_template.sessions.models import AuthSession
from quart_template.settings import Settings
from tests.support.accounts import access_token, log_in, reset_link, signup_link
from tests.support.factories import DEFAULT_PASSWORD, signed_in
from tests.support.http import auth, json_error
from tests.support.mfa import enrol, freeze_totp_clock
from tests.support.sql import executed

# Long enough that only an invalidation, never the entry's age, can explain a refusal here.
LONG = 3600.0


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(session_cache_seconds=LONG)


@contextmanager
def statements(rt: Runtime) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block, whitespace normalised (the
    list is filled when the block ends)."""
    texts: list[str] = []
    with executed(rt) as seen:
        yield texts
    texts.extend(" ".join(sql.split()) for sql, _ in seen)


async def _me(client: Client, headers: dict[str, str]) -> Any:
    response = await client.get("/me", headers=headers)
    assert response.status_code == 200, await response.get_json()
    return (await response.get_json())["user"]


async def test_a_miss_is_one_statement_and_a_hit_is_none(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    with statements(rt) as miss:
        await _me(client, user.headers)
    assert len(miss) == 1, miss
    assert miss[0].startswith("SELECT") and "FROM session" in miss[0] and "JOIN person" in miss[0]
    with statements(rt) as hits:
        for path in ("/me", "/auth/check", "/me"):
            assert (await client.get(path, headers=user.headers)).status_code == 200
    assert hits == []


async def test_zero_seconds_turns_the_cache_off(make_settings: Callable[..., Settings]) -> None:
    async with create_app(make_settings(session_cache_seconds=0)).test_app() as served:
        rt: Runtime = served.app.extensions["runtime"]
        client = served.test_client()
        user = await signed_in(rt)
        for _ in range(3):
            with statements(rt) as seen:
                await _me(client, user.headers)
            assert len(seen) == 1, seen
        assert len(rt.session_cache) == 0


async def test_logout_ends_a_cached_token_at_once(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    await _me(client, user.headers)
    assert (await client.post("/logout", headers=user.headers)).status_code == 200
    await json_error(await client.get("/me", headers=user.headers), 401)
    await json_error(await client.get("/auth/check", headers=user.headers), 401)


async def test_deleting_a_session_ends_its_cached_token_at_once(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    phone = auth(await access_token(await log_in(client)))
    laptop = await client.get("/auth/check", headers=user.headers)
    await _me(client, phone)
    response = await client.delete(f"/sessions/{laptop.headers['X-Session-Id']}", headers=phone)
    assert response.status_code == 200
    await json_error(await client.get("/me", headers=user.headers), 401)
    await _me(client, phone)


async def test_a_password_change_ends_the_other_cached_tokens_at_once(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    other = auth(await access_token(await log_in(client)))
    await _me(client, other)
    body = {"existing_password": DEFAULT_PASSWORD, "new_password": "a brand new passphrase"}
    response = await client.post("/update_password", json=body, headers=user.headers)
    assert response.status_code == 200, await response.get_json()
    await json_error(await client.get("/me", headers=other), 401)
    await _me(client, user.headers)


async def test_a_password_reset_ends_every_cached_token_at_once(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    other = auth(await access_token(await log_in(client)))
    await _me(client, user.headers)
    await _me(client, other)
    token, uidb64 = await reset_link(client, rt)
    reset = await client.post(
        f"/reset_password/{token}/{uidb64}", json={"password": "a brand new passphrase"}
    )
    assert reset.status_code == 200, await reset.get_json()
    for headers in (user.headers, other):
        await json_error(await client.get("/me", headers=headers), 401)


async def test_a_verified_email_shows_at_once(client: Client, rt: Runtime) -> None:
    token, uidb64 = await signup_link(client, rt)
    login = await log_in(client, "grace@example.com", "a long enough passphrase")
    headers = auth(await access_token(login))
    assert (await _me(client, headers))["verified"] is False
    assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 200
    assert (await _me(client, headers))["verified"] is True
    check_answer = await client.get("/auth/check", headers=headers)
    assert check_answer.headers["X-User-Verified"] == "true"


async def test_turning_mfa_on_shows_at_once(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await signed_in(rt)
    assert (await _me(client, user.headers))["mfa_enabled"] is False
    await enrol(client, user, freeze_totp_clock(monkeypatch))
    assert (await _me(client, user.headers))["mfa_enabled"] is True
    answer = await client.get("/auth/check", headers=user.headers)
    assert answer.headers["X-User-MFA"] == "true"


async def test_a_check_that_read_before_a_logout_does_not_cache_the_old_row(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request whose query ran before a session was ended answers as it read, but must not
    keep that row for the requests after. (The session is ended from another session: a
    logout's own token check would wait for the very lookup held here.)"""
    user = await signed_in(rt)
    phone = auth(await access_token(await log_in(client)))
    laptop = (await client.get("/auth/check", headers=user.headers)).headers["X-Session-Id"]
    rt.session_cache.clear()
    read, resume = _held_check(monkeypatch)
    early = asyncio.create_task(client.get("/me", headers=user.headers))
    await asyncio.wait_for(read.wait(), timeout=10)
    assert (await client.delete(f"/sessions/{laptop}", headers=phone)).status_code == 200
    resume.set()
    assert (await early).status_code == 200  # it read the row before the session ended
    await json_error(await client.get("/me", headers=user.headers), 401)


async def test_an_expired_session_is_never_served_from_the_cache(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    expires = utcnow() + timedelta(seconds=0.5)
    async with rt.engine.begin() as conn:  # behind the app's back: the cache is not told
        await conn.execute(update(AuthSession).values(expires_at=expires))
    await _me(client, user.headers)
    assert len(rt.session_cache) == 1
    deadline = time.monotonic() + 5
    while True:
        sent = utcnow()
        response = await client.get("/me", headers=user.headers)
        answered = utcnow()
        if sent >= expires:
            await json_error(response, 401)
            break
        # A request that crossed the expiry on a slow machine may go either way; one answered
        # before it must still be served.
        if answered < expires:
            assert response.status_code == 200
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_last_use_is_written_at_most_once_a_minute(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    async with rt.engine.begin() as conn:  # its last use was recorded two minutes ago
        await conn.execute(update(AuthSession).values(last_used_at=utcnow() - timedelta(minutes=2)))
    with statements(rt) as seen:
        for _ in range(5):
            await _me(client, user.headers)
    assert [s.split()[0] for s in seen if "last_used_at=" in s.replace(" ", "")] == ["UPDATE"]
    assert sum(s.startswith("SELECT") for s in seen) == 1  # recording the use kept the entry
    listed = await (await client.get("/sessions", headers=user.headers)).get_json()
    assert abs(listed["sessions"][0]["last_used"] - time.time()) < 60


def test_the_cache_keeps_the_most_recently_used_entries_only() -> None:
    cache = SessionCache(LONG, size=3)
    far = utcnow() + timedelta(hours=1)

    def caller(n: int) -> Caller:
        person = PersonSummary(f"p{n}", f"{n}@example.com", None, None, True, None, False)
        return Caller(person=person, session=SessionSummary(f"s{n}", f"p{n}", far))

    for n in range(3):
        cache.put(cache.key(f"t{n}"), caller(n), last_used=utcnow(), generation=cache.generation)
    assert cache.get(cache.key("t0")) is not None  # t0 is now the most recent
    cache.put(cache.key("t3"), caller(3), last_used=utcnow(), generation=cache.generation)
    assert len(cache) == 3
    assert cache.get(cache.key("t1")) is None
    assert all(cache.get(cache.key(f"t{n}")) is not None for n in (0, 2, 3))
    cache.invalidate({"p2"})
    assert cache.get(cache.key("t2")) is None and len(cache) == 2


async def test_concurrent_misses_of_one_token_share_one_query(client: Client, rt: Runtime) -> None:
    """When an entry ages out under load, the requests in flight for it ask the database once,
    not once each (they would queue for the pool's connections)."""
    user = await signed_in(rt)
    with statements(rt) as seen:
        answers = await asyncio.gather(
            *(client.get("/auth/check", headers=user.headers) for _ in range(20))
        )
    assert [a.status_code for a in answers] == [200] * 20
    assert {a.headers["X-User-Id"] for a in answers} == {user.person.entity_id}
    assert sum(s.startswith("SELECT") for s in seen) == 1, seen


def _held_check(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """The next token check's query waits, after reading, until `resume` is set."""
    read, resume = asyncio.Event(), asyncio.Event()
    real = check.authenticate_token
    held = False

    async def slow_first_check(*args: Any, **kwargs: Any) -> Any:
        nonlocal held
        found = await real(*args, **kwargs)
        if not held:
            held = True
            read.set()
            await resume.wait()
        return found

    monkeypatch.setattr(check, "authenticate_token", slow_first_check)
    return read, resume


async def test_a_request_after_a_revocation_does_not_join_a_lookup_from_before_it(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await signed_in(rt)
    read, resume = _held_check(monkeypatch)
    early = asyncio.create_task(client.get("/me", headers=user.headers))
    await asyncio.wait_for(read.wait(), timeout=10)
    # The token is revoked on another instance; the bus (or this process) drops its entries.
    async with rt.engine.begin() as conn:
        await conn.execute(update(AuthSession).values(active=False))
    rt.session_cache.drop(frozenset({user.person.entity_id}))
    late = asyncio.create_task(client.get("/me", headers=user.headers))
    await json_error(await asyncio.wait_for(late, timeout=10), 401)
    resume.set()
    assert (await early).status_code == 200  # it read the row before the revocation
    await json_error(await client.get("/me", headers=user.headers), 401)


async def test_a_request_that_goes_away_leaves_the_shared_lookup_to_the_others(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await signed_in(rt)
    read, resume = _held_check(monkeypatch)
    first = asyncio.create_task(check.check_token(rt, user.token))
    await asyncio.wait_for(read.wait(), timeout=10)
    second = asyncio.create_task(check.check_token(rt, user.token))
    await asyncio.sleep(0)  # the second joins the lookup in flight
    first.cancel()  # a client that hung up
    resume.set()
    caller = await asyncio.wait_for(second, timeout=10)
    assert caller is not None and caller.person.entity_id == user.person.entity_id
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(rt.session_cache) == 1
