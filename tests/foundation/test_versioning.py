"""Versioned entities: updates keep history in `<table>_audit`, deletes are soft."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from quart_template.accounts.models import Person
from quart_template.entities import AUDIT_TABLES
from quart_template.runtime import Runtime


async def _make_person(rt: Runtime) -> str:
    async with rt.db() as db, db.begin():
        person = Person(email="ada@example.com", email_key="ada@example.com", first_name="Ada")
        db.add(person)
    return person.entity_id


async def test_update_copies_previous_version_to_audit(rt: Runtime) -> None:
    entity_id = await _make_person(rt)
    async with rt.db() as db, db.begin():
        person = await db.get(Person, entity_id)
        assert person is not None
        assert person.version == 1
        person.first_name = "Augusta"
    async with rt.db() as db:
        current = await db.get(Person, entity_id)
        assert current is not None
        assert (current.version, current.previous_version, current.first_name) == (2, 1, "Augusta")
        audit = AUDIT_TABLES["person"]
        rows = (await db.execute(select(audit).where(audit.c.entity_id == entity_id))).all()
        assert len(rows) == 1
        assert rows[0].version == 1
        assert rows[0].first_name == "Ada"


async def test_delete_is_soft_and_audited(rt: Runtime) -> None:
    entity_id = await _make_person(rt)
    async with rt.db() as db, db.begin():
        person = await db.get(Person, entity_id)
        assert person is not None
        person.active = False
        person.email_key = None
    async with rt.db() as db:
        current = await db.get(Person, entity_id)
        assert current is not None
        assert current.active is False
        assert current.version == 2
        audit = AUDIT_TABLES["person"]
        old = (await db.execute(select(audit.c.active).where(audit.c.entity_id == entity_id))).one()
        assert old.active is True


async def test_no_change_makes_no_version(rt: Runtime) -> None:
    entity_id = await _make_person(rt)
    async with rt.db() as db, db.begin():
        person = await db.get(Person, entity_id)
        assert person is not None
        person.first_name = "Ada"
    async with rt.db() as db:
        current = await db.get(Person, entity_id)
        assert current is not None and current.version == 1


async def test_concurrent_writers_of_one_version_cannot_both_win(rt: Runtime) -> None:
    entity_id = await _make_person(rt)
    async with rt.db() as first:
        stale = await first.get(Person, entity_id)
        assert stale is not None
        await first.commit()  # ends the read; the object keeps version 1
        async with rt.db() as second, second.begin():
            fresh = await second.get(Person, entity_id)
            assert fresh is not None
            fresh.first_name = "Winner"
        stale.first_name = "Loser"
        try:
            await first.commit()
        except StaleDataError:
            await first.rollback()
        else:
            raise AssertionError("a stale version overwrote a newer one")
    async with rt.db() as db:
        current = await db.get(Person, entity_id)
        assert current is not None and current.first_name == "Winner"
