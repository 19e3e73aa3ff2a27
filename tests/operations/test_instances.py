"""Two instances behind a load balancer, as users deploy them: one database, one Redis, one
RabbitMQ exchange, each instance with its own relay. What one instance does, the other honours;
both relays together deliver every event once and in order; SIGTERM to one of them while a load
runs against both fails no request and loses no event, under either server. `serve --workers 2`
behaves the same."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from quart_template.serving import SERVERS
from tests.gateway.processes import AppServer
from tests.operations.conftest import StartPair, outbox_state
from tests.support.events import Consumer, Received

PASSWORD = "instances passphrase 0123"
DEADLINE = 30.0  # bounds, not expectations


def _base(server: AppServer) -> str:
    return f"http://{server.address}"


async def _person(http: httpx.AsyncClient, via: AppServer) -> str:
    email = f"ops-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "first_name": "Op", "last_name": "Erator"}
    assert (await http.post(f"{_base(via)}/signup", json=body)).status_code == 201
    return email


async def _login(http: httpx.AsyncClient, via: AppServer, email: str) -> str:
    response = await http.post(f"{_base(via)}/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["user"]["access_token"]
    return token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _refused_within(seconds: float, check: Callable[[], Awaitable[int]]) -> bool:
    """Whether `check` answers 401 within `seconds` (polled: the other instance's cache)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if await check() == 401:
            return True
        await asyncio.sleep(0.05)
    return await check() == 401


async def test_tokens_revocations_and_rate_limits_hold_across_instances(
    start_pair: StartPair,
) -> None:
    a, b = start_pair()
    async with httpx.AsyncClient(timeout=10) as http:
        email = await _person(http, a)
        first, second = await _login(http, b, email), await _login(http, a, email)
        me = await http.get(f"{_base(a)}/me", headers=_auth(first))
        assert me.status_code == 200 and me.json()["user"]["email"] == email

        check = await http.get(f"{_base(a)}/auth/check", headers=_auth(second))
        session_id = check.headers["X-Session-Id"]
        deleted = await http.delete(f"{_base(b)}/sessions/{session_id}", headers=_auth(first))
        assert deleted.status_code == 200

        async def second_on_a() -> int:
            return (await http.get(f"{_base(a)}/me", headers=_auth(second))).status_code

        assert await _refused_within(1.0, second_on_a)

        assert (await http.post(f"{_base(a)}/logout", headers=_auth(first))).status_code == 200

        async def first_on_b() -> int:
            return (await http.get(f"{_base(b)}/me", headers=_auth(first))).status_code

        assert await _refused_within(1.0, first_on_b)

        # Failed sign-ins count together: 5 through either, then both refuse the right password.
        wrong = {"email": email, "password": "not the password"}
        for n in range(5):
            failed = await http.post(f"{_base(a if n % 2 else b)}/login", json=wrong)
            assert failed.status_code == 401
        right = {"email": email, "password": PASSWORD}
        for server in (a, b):
            refused = await http.post(f"{_base(server)}/login", json=right)
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


async def _delivered(
    database_url: str, consumer: Consumer, within: float = DEADLINE
) -> tuple[dict[str, str], list[Received]]:
    """Once every RabbitMQ outbox row is sent and its message arrived: the rows and messages."""
    end = time.monotonic() + within
    while True:
        rows = await outbox_state(database_url)
        arrived = {m.message_id for m in consumer.messages}
        done = rows and all(status == "sent" for status in rows.values()) and set(rows) <= arrived
        if done or time.monotonic() > end:
            return rows, await consumer.settle()
        await asyncio.sleep(0.1)


def _assert_once_and_in_order(rows: dict[str, str], messages: list[Received]) -> None:
    assert rows and set(rows.values()) == {"sent"}, rows
    ids = [m.message_id for m in messages]
    assert len(ids) == len(set(ids)), "a message was delivered twice"
    assert set(ids) == set(rows), "delivered messages differ from the outbox"
    versions: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        versions[message.body["entity_id"]].append(message.body["version"])
    for entity_id, seen in versions.items():
        assert seen == sorted(seen), f"{entity_id} out of order: {seen}"


@pytest.mark.parametrize("workers", [1, 2])
async def test_both_relays_deliver_every_event_once_in_order(
    start_pair: StartPair, shared_database: str, consumer: Consumer, workers: int
) -> None:
    a, b = start_pair(workers=workers)
    async with httpx.AsyncClient(timeout=10) as http:

        async def life(n: int) -> None:
            """Sign up, sign in twice, sign out of both: new and updated entities, both ways."""
            here, there = (a, b) if n % 2 else (b, a)
            email = await _person(http, here)
            for token in [await _login(http, there, email), await _login(http, here, email)]:
                assert (await http.post(f"{_base(there)}/logout", headers=_auth(token))).is_success

        await asyncio.gather(*(life(n) for n in range(8)))
    rows, messages = await _delivered(shared_database, consumer)
    _assert_once_and_in_order(rows, messages)


@dataclass
class Load:
    """A load balancer's view: it asks each instance's `/readyz` every 100 ms and spreads
    requests over the ready ones; a refused connection is retried on another instance (nginx's
    `proxy_next_upstream error`). Every answer is kept."""

    servers: list[AppServer]
    tokens: list[str]
    emails: list[str]
    statuses: list[int] = field(default_factory=list)
    retried: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    ready: set[str] = field(default_factory=set)

    async def health_checks(self) -> None:
        async with httpx.AsyncClient(timeout=1) as http:
            while not self.stop.is_set():
                for server in self.servers:
                    try:
                        ok = (await http.get(f"{_base(server)}/readyz")).status_code == 200
                    except httpx.TransportError:
                        ok = False
                    (self.ready.add if ok else self.ready.discard)(server.address)
                await asyncio.sleep(0.1)

    async def worker(self, n: int) -> None:
        # No keep-alive: each request is a new connection, as the balancer opens them.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=DEADLINE, limits=limits) as http:
            count = n
            while not self.stop.is_set():
                count += 1
                user = count % len(self.tokens)
                for attempt in range(len(self.servers) * 2):
                    ready = [s for s in self.servers if s.address in self.ready] or self.servers
                    server = ready[(count + attempt) % len(ready)]
                    try:
                        response = await self._request(http, server, user, login=count % 5 == 0)
                    except httpx.ConnectError:
                        self.retried += 1
                        continue
                    self.statuses.append(response.status_code)
                    break

    async def _request(
        self, http: httpx.AsyncClient, server: AppServer, user: int, *, login: bool
    ) -> httpx.Response:
        if login:
            body = {"email": self.emails[user], "password": PASSWORD}
            return await http.post(f"{_base(server)}/login", json=body)
        return await http.get(f"{_base(server)}/me", headers=_auth(self.tokens[user]))

    async def until_answered(self, count: int) -> None:
        """Wait (bounded) until the load has had `count` answers in all."""
        end = time.monotonic() + DEADLINE
        while len(self.statuses) < count and time.monotonic() < end:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("server", SERVERS)
async def test_sigterm_to_one_instance_under_load_fails_no_request_and_loses_no_event(
    start_pair: StartPair, shared_database: str, consumer: Consumer, server: str, workers: int
) -> None:
    # SHUTDOWN_DELAY: time for the balancer's next health check to see /readyz 503.
    a, b = start_pair(
        workers=workers, GRACEFUL_TIMEOUT="10", SHUTDOWN_DELAY="1", ASGI_SERVER=server
    )
    async with httpx.AsyncClient(timeout=10) as http:
        emails = [await _person(http, a if n % 2 else b) for n in range(4)]
        tokens = [await _login(http, b, email) for email in emails]
    load = Load([a, b], tokens, emails)
    tasks = [asyncio.ensure_future(load.worker(n)) for n in range(8)]
    tasks.append(asyncio.ensure_future(load.health_checks()))
    try:
        await load.until_answered(100)  # the load is running on both
        assert a.process is not None
        a.process.terminate()  # SIGTERM, as `docker stop` or Kubernetes sends it
        code = await asyncio.to_thread(a.process.wait, DEADLINE)
        await load.until_answered(len(load.statuses) + 100)  # B carries on alone
    finally:
        load.stop.set()
        await asyncio.gather(*tasks)
    assert code == 0
    assert set(load.statuses) == {200}, f"answers other than 200: {sorted(set(load.statuses))}"
    rows, messages = await _delivered(shared_database, consumer)
    _assert_once_and_in_order(rows, messages)
