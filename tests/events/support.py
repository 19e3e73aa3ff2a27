"""Helpers for event tests: a serving app with chosen settings, and entity changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from quart import Blueprint, Quart
from sqlalchemy import select

from quart_template.accounts.models import LoginMethod, Person
from quart_template.app import create_app
from quart_template.events.outbox import OutboxMessage
from quart_template.runtime import Runtime, runtime
from quart_template.settings import Settings
from tests.factories import create_person

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
