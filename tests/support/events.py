"""Helpers for event tests: a serving app with chosen settings, entity changes, a consumer of
the events exchange, and settings for the fake Pusher API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from quart import Blueprint, Quart
from sqlalchemy import select

from quart_template.accounts.models import LoginMethod, Person
from quart_template.app import create_app
from quart_template.events.outbox import OutboxMessage
from quart_template.runtime import Runtime, runtime
from quart_template.settings import Settings
from tests.fakes.pusher_api import FakePusherAPI
from tests.support.factories import create_person

changes = Blueprint("test_changes", __name__)


@changes.post("/test/people/<int:n>")
async def make_person(n: int) -> dict[str, Any]:
    """An entity change made by a request, through the full request path."""
    person = await create_person(runtime(), email=f"p{n}@example.com", password=None)
    return {"entity_id": person.entity_id}


@changes.post("/test/people/<entity_id>/rename/<name>")
async def rename(entity_id: str, name: str) -> dict[str, Any]:
    async with runtime().db() as db, db.begin():
        person = await db.get_one(Person, entity_id)
        person.first_name = name
    return {"version": person.version}


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Quart, Runtime]]:
    """A real app (startup and shutdown run) with the test routes for entity changes."""
    app = create_app(settings)
    app.register_blueprint(changes)
    async with app.test_app() as test_app:
        yield test_app.app, test_app.app.extensions["runtime"]  # type: ignore[misc]


async def outbox_rows(rt: Runtime, destination: str | None = None) -> list[OutboxMessage]:
    async with rt.db() as db:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if destination:
            query = query.where(OutboxMessage.destination == destination)
        return list((await db.execute(query)).scalars())


async def soft_delete_login_methods(rt: Runtime, person_id: str) -> None:
    async with rt.db() as db, db.begin():
        for method in (
            await db.execute(select(LoginMethod).where(LoginMethod.person_id == person_id))
        ).scalars():
            method.active = False


@dataclass
class Received:
    routing_key: str
    message_id: str | None
    body: dict[str, Any]
    persistent: bool
    content_type: str | None


@dataclass
class Consumer:
    """A temporary queue bound to the test's exchange, collecting every event."""

    messages: list[Received] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            received = Received(
                routing_key=message.routing_key or "",
                message_id=message.message_id,
                body=json.loads(message.body),
                persistent=message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
                content_type=message.content_type,
            )
            async with self._arrived:
                self.messages.append(received)
                self._arrived.notify_all()

    async def wait_for(self, count: int, within: float = 15.0) -> list[Received]:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.messages) >= count), within
            )
        return self.messages

    async def settle(self, quiet: float = 0.3) -> list[Received]:
        """Everything that arrives until nothing more does for `quiet` seconds (duplicates)."""
        while True:
            count = len(self.messages)
            try:
                await self.wait_for(count + 1, within=quiet)
            except TimeoutError:
                return self.messages


def pusher_settings(api: FakePusherAPI) -> dict[str, Any]:
    """Settings overrides pointing the app at the fake Pusher API."""
    return {
        "pusher_app_id": api.app_id,
        "pusher_api_key": api.key,
        "pusher_api_secret": api.secret,
        "pusher_host": "127.0.0.1",
        "pusher_port": api.port,
        "pusher_ssl": False,
    }
