"""The relay: per-entity order, failed rows stay pending with backoff, dead rows step aside,
stopping keeps pending rows, and two relays together neither lose nor reorder events."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable, Sequence

import pytest

from quart_template.db import make_engine, utcnow
from quart_template.events.destinations import PermanentDeliveryError
from quart_template.events.outbox import DEAD, PENDING, SENT, OutboxMessage
from quart_template.events.rabbitmq import RabbitPublisher
from quart_template.events.relay import OutboxRelay, Pace, waves
from quart_template.metrics import REGISTRY
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.events import Consumer, outbox_rows, serving
from tests.support.factories import create_person
from tests.support.network import free_port


class Recorder:
    """A fake destination: records what it confirmed; can fail chosen entities."""

    name = "rabbitmq"

    def __init__(self, log: list[tuple[str, int]], batch_size: int = 100) -> None:
        self.batch_size = batch_size
        self.log = log
        self.failing: set[str] = set()
        self.refusing: set[str] = set()
        self.delay = 0.0
        self.progress = asyncio.Event()

    def start(self, on_ready: Callable[[], None]) -> None: ...

    def available(self) -> bool:
        return True

    async def wait_available(self, within: float) -> bool:
        return True

    async def deliver(self, rows: Sequence[OutboxMessage]) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        for row in rows:
            if self.delay:
                await asyncio.sleep(random.uniform(0, self.delay))
            if row.entity_id in self.failing:
                results.append(ConnectionError("broker said no"))
            elif row.entity_id in self.refusing:
                results.append(PermanentDeliveryError("too large"))
            else:
                self.log.append((row.entity_id or "", row.version or 0))
                self.progress.set()
                results.append(None)
        return results

    async def aclose(self) -> None: ...


def offline(make_settings: Callable[..., Settings]) -> Settings:
    """Rows for "rabbitmq" are written, but no relay runs in the app."""
    return make_settings(
        amqp_url_=f"amqp://guest:guest@127.0.0.1:{free_port()}/", relay_in_app=False
    )


async def rename_many(rt: Runtime, person_id: str, times: int) -> None:
    from quart_template.accounts.models import Person

    for n in range(times):
        async with rt.db() as db, db.begin():
            (await db.get_one(Person, person_id)).first_name = f"v{n}"


def test_waves_hold_the_kth_row_of_every_entity() -> None:
    rows = [
        OutboxMessage(id=i, entity_id=e, message_id=f"m{i}")
        for i, e in enumerate(["a", "b", "a", "c", "a", "b"])
    ]
    assert [[row.id for row in wave] for wave in waves(rows)] == [[0, 1, 3], [2, 5], [4]]


async def test_a_failed_row_stays_pending_with_backoff_and_holds_its_entity_only(
    make_settings: Callable[..., Settings],
) -> None:
    async with serving(offline(make_settings)) as (_, rt):
        stuck = await create_person(rt, email="stuck@example.com", with_signup_method=False)
        fine = await create_person(rt, email="fine@example.com", with_signup_method=False)
        await rename_many(rt, stuck.entity_id, 2)
        await rename_many(rt, fine.entity_id, 2)
        log: list[tuple[str, int]] = []
        destination = Recorder(log)
        destination.failing.add(stuck.entity_id)
        relay = OutboxRelay(rt.engine, [destination])
        await relay.drain()

        assert log == [(fine.entity_id, 1), (fine.entity_id, 2), (fine.entity_id, 3)]
        rows = [r for r in await outbox_rows(rt) if r.entity_id == stuck.entity_id]
        assert [r.status for r in rows] == [PENDING] * 3
        head, *later = rows
        assert head.attempts == 1 and "broker said no" in (head.last_error or "")
        assert head.next_attempt_at > utcnow()
        assert [r.attempts for r in later] == [0, 0]  # never tried out of order

        destination.failing.clear()
        await relay.drain()  # not due yet: backoff holds
        assert len(log) == 3
        async with rt.db() as db, db.begin():
            (await db.get_one(OutboxMessage, head.id)).next_attempt_at = utcnow()
        await relay.drain()
        assert log[3:] == [(stuck.entity_id, 1), (stuck.entity_id, 2), (stuck.entity_id, 3)]


async def test_a_refused_row_is_set_aside_and_does_not_block(
    make_settings: Callable[..., Settings],
) -> None:
    async with serving(offline(make_settings)) as (_, rt):
        person = await create_person(rt, with_signup_method=False)
        await rename_many(rt, person.entity_id, 1)
        log: list[tuple[str, int]] = []
        destination = Recorder(log)
        destination.refusing.add(person.entity_id)
        await OutboxRelay(rt.engine, [destination]).drain()
        assert [r.status for r in await outbox_rows(rt)] == [DEAD, DEAD]


async def test_deliveries_and_failures_are_counted_per_destination(
    make_settings: Callable[..., Settings],
) -> None:
    async with serving(offline(make_settings)) as (_, rt):
        stuck = await create_person(rt, email="stuck@example.com", with_signup_method=False)
        refused = await create_person(rt, email="refused@example.com", with_signup_method=False)
        fine = await create_person(rt, email="fine@example.com", with_signup_method=False)
        await rename_many(rt, fine.entity_id, 2)
        destination = Recorder([])
        destination.failing.add(stuck.entity_id)
        destination.refusing.add(refused.entity_id)
        before = delivery_counts()
        await OutboxRelay(rt.engine, [destination]).drain()
        after = delivery_counts()
        # fine: 3 rows sent; stuck: its first row fails (the rest wait); refused: its one row dies
        assert [b - a for a, b in zip(before, after, strict=True)] == [3, 1, 1]


def delivery_counts() -> tuple[float, float, float]:
    """Sent, retried and dead counts of the "rabbitmq" destination in this process."""

    def read(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"destination": "rabbitmq", **labels}) or 0.0

    return (
        read("quart_template_outbox_deliveries_total"),
        read("quart_template_outbox_delivery_failures_total", kind="retry"),
        read("quart_template_outbox_delivery_failures_total", kind="dead"),
    )


async def test_stopping_keeps_pending_rows(make_settings: Callable[..., Settings]) -> None:
    async with serving(offline(make_settings)) as (_, rt):
        person = await create_person(rt, with_signup_method=False)
        await rename_many(rt, person.entity_id, 3)
        relay = OutboxRelay(rt.engine, [Recorder([])])  # never started
        await relay.stop()
        rows = await outbox_rows(rt)
        assert [r.status for r in rows] == [PENDING] * 4
        assert all(r.next_attempt_at <= utcnow() for r in rows)  # no lease left behind


def assert_in_order(log: list[tuple[str, int]], ids: list[str], versions: int) -> None:
    seen: dict[str, list[int]] = defaultdict(list)
    for entity_id, version in log:
        if version not in seen[entity_id]:  # duplicates are allowed (at least once)
            seen[entity_id].append(version)
    for entity_id in ids:
        assert seen[entity_id] == list(range(1, versions + 1)), entity_id


async def test_two_relays_neither_lose_nor_reorder(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    async with serving(offline(make_settings)) as (_, rt):
        log: list[tuple[str, int]] = []
        destinations = [Recorder(log, batch_size=5), Recorder(log, batch_size=5)]
        for destination in destinations:
            destination.delay = 0.003
        engines = [make_engine(database_url) for _ in destinations]
        relays = [
            OutboxRelay(e, [d], poll_interval=0.02)
            for e, d in zip(engines, destinations, strict=True)
        ]
        for relay in relays:
            relay.start()
        people = [
            await create_person(rt, email=f"r{n}@example.com", with_signup_method=False)
            for n in range(12)
        ]
        await asyncio.gather(*(rename_many(rt, p.entity_id, 6) for p in people))
        async with asyncio.timeout(30):
            while len(set(log)) < 12 * 7:
                waiting = [asyncio.create_task(d.progress.wait()) for d in destinations]
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for task in waiting:
                    task.cancel()
                for destination in destinations:
                    destination.progress.clear()
        for relay in relays:
            await relay.stop()
        for engine in engines:
            await engine.dispose()
        assert {r.status for r in await outbox_rows(rt)} == {SENT}
    assert_in_order(log, [p.entity_id for p in people], 7)


async def test_two_relays_on_the_real_broker(
    make_settings: Callable[..., Settings],
    database_url: str,
    amqp_url: str,
    exchange_name: str,
    consumer: Consumer,
) -> None:
    settings = make_settings(amqp_url_=amqp_url, mq_exchange=exchange_name, relay_in_app=False)
    async with serving(settings) as (_, rt):
        publishers = [RabbitPublisher(amqp_url, exchange_name, batch_size=7) for _ in range(2)]
        engines = [make_engine(database_url) for _ in publishers]
        relays = [
            OutboxRelay(e, [p], poll_interval=0.02)
            for e, p in zip(engines, publishers, strict=True)
        ]
        for publisher, relay in zip(publishers, relays, strict=True):
            publisher.start(relay.kick)
            relay.start()
        people = [
            await create_person(rt, email=f"b{n}@example.com", with_signup_method=False)
            for n in range(10)
        ]
        await asyncio.gather(*(rename_many(rt, p.entity_id, 5) for p in people))
        messages = await consumer.wait_for(60, within=30)
        messages = await consumer.settle()
        for publisher, relay in zip(publishers, relays, strict=True):
            await relay.stop()
            await publisher.aclose()
        for engine in engines:
            await engine.dispose()
        expected = {r.message_id for r in await outbox_rows(rt, "rabbitmq")}
    assert {m.message_id for m in messages} == expected
    log = [(m.body["entity_id"], m.body["version"]) for m in messages]
    assert_in_order(log, [p.entity_id for p in people], 6)


class Sizes(Recorder):
    """A Recorder that also notes how many rows each delivery call was given."""

    def __init__(self, batch_size: int = 100) -> None:
        super().__init__([], batch_size=batch_size)
        self.calls: list[int] = []

    async def deliver(self, rows: Sequence[OutboxMessage]) -> list[BaseException | None]:
        self.calls.append(len(rows))
        return await super().deliver(rows)


async def test_while_requests_are_served_a_backlog_drains_in_small_paced_slices(
    make_settings: Callable[..., Settings],
) -> None:
    async with serving(offline(make_settings)) as (_, rt):
        people = [
            await create_person(rt, email=f"p{n}@example.com", with_signup_method=False)
            for n in range(30)
        ]
        busy = True
        destination = Sizes(batch_size=100)
        pace = Pace(rate=50, busy=lambda: busy)  # 50 events/s: slices of 10 rows
        relay = OutboxRelay(rt.engine, [destination], pace=pace)

        await relay.drain()  # 30 rows, one entity each: three slices
        assert destination.calls == [10, 10, 10]
        assert pace.delay("rabbitmq") > 0  # the next slice waits for its share of the second

        busy = False  # the API is idle: whole batches, no wait
        for person in people:
            await rename_many(rt, person.entity_id, 1)
        assert pace.delay("rabbitmq") == 0
        await relay.drain()
        assert destination.calls[3:] == [30]
        assert sorted(destination.log) == sorted(
            [(p.entity_id, 1) for p in people] + [(p.entity_id, 2) for p in people]
        )


def test_the_pace_books_each_slice_against_the_rate_only_while_busy() -> None:
    busy = True
    pace = Pace(rate=100, busy=lambda: busy)
    destination = Sizes(batch_size=1000)
    assert pace.batch(destination) == 20  # 0.2 s of the rate
    assert pace.delay("rabbitmq") == 0
    pace.book("rabbitmq", 20)
    assert 0 < pace.delay("rabbitmq") <= 0.2
    pace.book("rabbitmq", 20)  # a second worker's slice queues behind the first
    assert 0.2 < pace.delay("rabbitmq") <= 0.4
    busy = False
    assert pace.batch(destination) == 1000
    assert pace.delay("rabbitmq") == 0


def test_a_late_claim_keeps_its_slot_and_the_pace_its_average() -> None:
    now = 100.0
    pace = Pace(rate=100, busy=lambda: True, clock=lambda: now)
    pace.book("rabbitmq", 20)  # 0.2 s of the rate: the next slice at 100.2
    now = 100.25  # the worker woke 50 ms late (a busy loop fires timers late)
    assert pace.delay("rabbitmq") == 0
    pace.book("rabbitmq", 20)  # from 100.2, where the slot was, not from 100.25
    assert pace.delay("rabbitmq") == pytest.approx(0.15)
    now = 105.0  # after a pause longer than a slice the clock starts anew: no burst
    pace.book("rabbitmq", 20)
    assert pace.delay("rabbitmq") == pytest.approx(0.2)
