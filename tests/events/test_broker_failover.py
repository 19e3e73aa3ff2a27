"""AMQP_URL listing several brokers: the publisher connects to the first that answers and, when
the connection to one is lost, moves on to the others in turn; /readyz says what is true
meanwhile, and every event is delivered exactly once, in order per entity. The brokers are the
real RabbitMQ, behind loopback proxies that can be cut (a node of a cluster going away)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest
from quart import Quart

from quart_template.brokers import broker_address
from quart_template.events.outbox import PENDING
from quart_template.events.rabbitmq import RabbitPublisher
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.tcp_proxy import TcpProxy
from tests.support.events import Consumer, Received, outbox_rows, serving
from tests.support.network import free_port, via_port


@pytest.fixture
async def proxies(amqp_url: str) -> AsyncIterator[list[TcpProxy]]:
    """Two proxies in front of the real broker: two "brokers" a test can cut one by one."""
    parts = urlsplit(amqp_url)
    started = [TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672) for _ in range(2)]
    for proxy in started:
        await proxy.start()
    yield started
    for proxy in started:
        await proxy.cut()


@pytest.fixture
def two_brokers(
    make_settings: Callable[..., Settings],
    amqp_url: str,
    exchange_name: str,
    proxies: list[TcpProxy],
) -> Settings:
    """Settings whose AMQP_URL lists the two proxies, first then second."""
    brokers = ",".join(via_port(amqp_url, proxy.port) for proxy in proxies)
    return make_settings(amqp_url_=brokers, mq_exchange=exchange_name)


def publisher(rt: Runtime) -> RabbitPublisher:
    assert rt.relay is not None
    destination = rt.relay.destinations["rabbitmq"]
    assert isinstance(destination, RabbitPublisher)
    return destination


async def broker_status(app: Quart, wanted: str) -> None:
    """Wait until /readyz reports the broker `wanted` (at most 10 s)."""
    for _ in range(500):
        body = await (await app.test_client().get("/readyz")).get_json()
        if body["broker"] == wanted:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"/readyz never reported the broker {wanted}")


async def change_people(app: Quart, first: int, count: int) -> list[str]:
    """`count` new people, each renamed once: two events per person (and one login method)."""
    client = app.test_client()
    ids = []
    for n in range(first, first + count):
        response = await client.post(f"/test/people/{n}")
        assert response.status_code == 200
        ids.append((await response.get_json())["entity_id"])
    for entity_id in ids:
        assert (await client.post(f"/test/people/{entity_id}/rename/X")).status_code == 200
    return ids


def assert_once_in_order(messages: list[Received], ids: list[str]) -> None:
    """Each event exactly once; each person's versions 1, 2 in that order."""
    assert len({m.message_id for m in messages}) == len(messages)
    versions: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        if message.routing_key.startswith("person."):
            versions[message.body["entity_id"]].append(message.body["version"])
    for entity_id in ids:
        assert versions[entity_id] == [1, 2]


async def test_the_first_broker_that_answers_is_used(
    make_settings: Callable[..., Settings], amqp_url: str, exchange_name: str, consumer: Consumer
) -> None:
    brokers = f"{via_port(amqp_url, free_port())},{amqp_url}"
    settings = make_settings(amqp_url_=brokers, mq_exchange=exchange_name)
    async with serving(settings) as (app, rt):
        await broker_status(app, "ok")
        assert publisher(rt)._brokers.current == broker_address(amqp_url)
        ids = await change_people(app, 0, 2)
        messages = await consumer.wait_for(6)  # 2 x (person.create, login_method.create, update)
        messages = await consumer.settle()
    assert len(messages) == 6
    assert_once_in_order(messages, ids)


async def test_a_lost_broker_is_left_for_the_next_and_nothing_is_lost_or_repeated(
    two_brokers: Settings, consumer: Consumer, proxies: list[TcpProxy]
) -> None:
    first, second = proxies
    async with serving(two_brokers) as (app, rt):
        await broker_status(app, "ok")
        assert publisher(rt)._brokers.current == f"127.0.0.1:{first.port}"
        before = await change_people(app, 0, 2)
        await consumer.wait_for(6)
        assert rt.relay is not None
        await rt.relay.drain()  # the confirms are in: those rows are sent

        await first.cut()  # and it stays cut
        ids = await change_people(app, 2, 3)  # while the publisher moves on
        messages = await consumer.wait_for(15, within=30)
        await broker_status(app, "ok")
        assert publisher(rt)._brokers.current == f"127.0.0.1:{second.port}"
        messages = await consumer.settle()
    assert len(messages) == 15
    assert_once_in_order(messages, before + ids)


async def test_with_every_broker_gone_readyz_says_down_and_the_first_back_is_used(
    two_brokers: Settings, consumer: Consumer, proxies: list[TcpProxy]
) -> None:
    first, second = proxies
    async with serving(two_brokers) as (app, rt):
        await broker_status(app, "ok")
        await second.cut()  # not in use: nothing changes
        await first.cut()
        await broker_status(app, "down")
        ids = await change_people(app, 0, 2)
        pending = [row for row in await outbox_rows(rt, "rabbitmq") if row.status == PENDING]
        assert len(pending) == 6  # no broker to take them: the rows wait

        await first.restore()  # the one after the last broker lost, tried in turn
        await broker_status(app, "ok")
        assert publisher(rt)._brokers.current == f"127.0.0.1:{first.port}"
        messages = await consumer.wait_for(6, within=30)
        messages = await consumer.settle()
    assert len(messages) == 6
    assert_once_in_order(messages, ids)
