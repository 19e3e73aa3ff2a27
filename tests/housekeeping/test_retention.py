"""What housekeeping deletes and what it keeps: ended sessions (with their history) after
SESSION_RETENTION, spent or expired challenges (second factor, passkey) and social sign-in
flows after a day, delivered outbox rows after OUTBOX_RETENTION, security events after
SECURITY_EVENT_RETENTION, audit history only when AUDIT_RETENTION is set; live rows and every
entity's current row always stay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select, update

from quart_template.accounts.models import LoginMethod, Person, person_audit
from quart_template.entities import AUDIT_TABLES
from quart_template.events.outbox import DEAD, PENDING, SENT, OutboxMessage
from quart_template.housekeeping.lease import Lease
from quart_template.housekeeping.service import Report, housekeep
from quart_template.mfa.models import MfaChallenge, OtpMethod, RecoveryCode
from quart_template.passkeys.models import Passkey, PasskeyChallenge
from quart_template.runtime import Runtime
from quart_template.security.models import SecurityEvent
from quart_template.sessions.models import AuthSession, session_audit
from quart_template.settings import Settings
from quart_template.social.models import SocialFlow
from tests.support.factories import PersonWithToken, signed_in
from tests.support.retention import (
    add_challenge,
    add_flow,
    add_outbox_row,
    add_passkey_challenge,
    add_security_event,
    aged,
    ago,
    count,
    keys,
    session_of,
)


@dataclass
class World:
    """One person's rows on both sides of every retention."""

    ada: PersonWithToken
    gone: dict[str, set[object]]
    kept: dict[str, set[object]]


async def _world(rt: Runtime) -> World:
    ada = await signed_in(rt)
    person = ada.person
    expired_long_ago = await session_of(rt, person, expired_days_ago=31)
    expired_lately = await session_of(rt, person, expired_days_ago=29)
    revoked_long_ago = await session_of(rt, person, revoked=True)
    await aged(rt.engine, AuthSession, revoked_long_ago, revoked_at=ago(31))
    revoked_lately = await session_of(rt, person, revoked=True)
    [live] = await keys(rt.engine, AuthSession) - {
        expired_long_ago,
        expired_lately,
        revoked_long_ago,
        revoked_lately,
    }
    gone = {
        "session": {expired_long_ago, revoked_long_ago},
        "mfa_challenge": {
            await add_challenge(rt, person, expired_days_ago=1.5),
            await add_challenge(rt, person, expired_days_ago=3, used_days_ago=3),
        },
        "passkey_challenge": {
            await add_passkey_challenge(rt, expired_days_ago=1.5),
            await add_passkey_challenge(rt, expired_days_ago=3, used_days_ago=3),
        },
        "social_flow": {
            await add_flow(rt, expired_days_ago=1.2),
            await add_flow(rt, expired_days_ago=2, used_days_ago=2.005),  # finished
        },
        "outbox": {await add_outbox_row(rt, status=SENT, created_days_ago=9, sent_days_ago=8)},
        "security_event": {await add_security_event(rt, person, days_ago=400)},
    }
    kept = {
        "session": {live, expired_lately, revoked_lately},
        "mfa_challenge": {
            await add_challenge(rt, person, expired_days_ago=-0.003),  # pending: 4 minutes left
            await add_challenge(rt, person, expired_days_ago=0.5, used_days_ago=0.5),
        },
        "passkey_challenge": {
            await add_passkey_challenge(rt, expired_days_ago=-0.003),  # pending
            await add_passkey_challenge(rt, expired_days_ago=0.5, used_days_ago=0.5),
        },
        "social_flow": {
            await add_flow(rt, expired_days_ago=-0.005),  # in flight: 7 minutes left
            await add_flow(rt, expired_days_ago=0.9),  # expired, but lately
            await add_flow(rt, expired_days_ago=0.5, used_days_ago=0.505),  # finished lately
        },
        "outbox": {
            await add_outbox_row(rt, status=SENT, created_days_ago=7, sent_days_ago=6),
            await add_outbox_row(rt, status=PENDING, created_days_ago=30),  # undelivered
            await add_outbox_row(rt, status=DEAD, created_days_ago=30),  # for an operator
        },
        "security_event": {await add_security_event(rt, person, days_ago=300)},
    }
    return World(ada=ada, gone=gone, kept=kept)


MODELS = {
    "session": AuthSession,
    "mfa_challenge": MfaChallenge,
    "passkey_challenge": PasskeyChallenge,
    "social_flow": SocialFlow,
    "outbox": OutboxMessage,
    "security_event": SecurityEvent,
}


def _lease(rt: Runtime, holder: str = "test") -> Lease:
    return Lease(rt.engine, holder=holder)


async def _run(rt: Runtime, settings: Settings | None = None, **options: Any) -> Report:
    return await housekeep(rt.engine, settings or rt.settings, lease=_lease(rt), **options)


# Batches of one and two put a batch's end between every pair of rows.
@pytest.mark.parametrize("batch_size", [1000, 2, 1])
async def test_rows_past_their_retention_go_and_live_ones_stay(
    client: Client, rt: Runtime, batch_size: int
) -> None:
    world = await _world(rt)
    history_before = await keys(rt.engine, session_audit)
    current = {name: await count(rt.engine, model) for name, model in MODELS_BY_ENTITY.items()}

    report = await _run(rt, batch_size=batch_size)

    assert report.ran and not report.stopped
    for table, model in MODELS.items():
        assert await keys(rt.engine, model) == world.kept[table], table
        assert report.counts[table] == len(world.gone[table]), table
    # The revoked session's history went with it; the recently revoked one's stays.
    assert report.counts["session_audit"] == 1
    assert len(await keys(rt.engine, session_audit)) == len(history_before) - 1
    # Every entity's current row stays (sessions: the live ones, counted above).
    for name, model in MODELS_BY_ENTITY.items():
        if name != "session":
            assert await count(rt.engine, model) == current[name], name
    check = await client.get("/auth/check", headers=world.ada.headers)
    assert check.status_code == 200  # the live session still works


async def test_rows_ended_at_the_same_instant_go_in_batches_that_split_them(rt: Runtime) -> None:
    # A batch ends at a row in index order (the end time, then the key): rows sharing an end
    # time on both sides of a batch's end all go, once each, and nothing after them.
    ada = await signed_in(rt)
    live = await keys(rt.engine, AuthSession)
    ended = ago(40)
    expired = [await session_of(rt, ada.person) for _ in range(7)]
    revoked = [await session_of(rt, ada.person, revoked=True) for _ in range(4)]
    for key in expired:
        await aged(rt.engine, AuthSession, key, expires_at=ended)
    for key in revoked:
        await aged(rt.engine, AuthSession, key, revoked_at=ended)
    young = await session_of(rt, ada.person, expired_days_ago=29)

    report = await _run(rt, batch_size=3)

    assert report.counts["session"] == 11
    assert report.counts["session_audit"] == 4  # the revoked ones' first versions
    assert await keys(rt.engine, AuthSession) == live | {young}


async def test_audit_history_is_kept_forever_when_audit_retention_is_unset(rt: Runtime) -> None:
    await _entities_with_history(rt)
    history = {name: await keys(rt.engine, table) for name, table in AUDIT_TABLES.items()}
    await _age_history(rt, days=3650)

    report = await _run(rt)

    assert rt.settings.audit_retention is None
    for name, table in AUDIT_TABLES.items():
        assert history[name] and await keys(rt.engine, table) == history[name], name
    assert report.counts["session_audit"] == 0  # (that session is live)
    assert not {t for t in report.counts if t.endswith("_audit")} - {"session_audit"}


async def test_audit_retention_prunes_old_history_never_a_current_row(rt: Runtime) -> None:
    current = await _entities_with_history(rt)
    await _age_history(rt, days=91)
    person = await _reload(rt, Person, current["person"][0])
    person.first_name = "Augusta"  # one more version today: its history row is recent
    async with rt.db() as db, db.begin():
        db.add(person)
    current["person"] = (person.entity_id, person.version)

    report = await _run(rt, rt.settings.model_copy(update={"audit_retention": 90}))

    assert report.counts["person_audit"] == 1
    async with rt.engine.connect() as conn:
        left = (await conn.execute(select(person_audit.c.version))).scalars().all()
    assert left == [2]  # the copy made today (of version 2) stays
    for name, table in AUDIT_TABLES.items():
        if name != "person":
            assert await keys(rt.engine, table) == set(), name
            assert report.counts[f"{name}_audit"] == 1, name
    for name, (entity_id, version) in current.items():
        row = await _reload(rt, MODELS_BY_ENTITY[name], entity_id)
        assert row.version == version, name  # the current row itself is never touched


async def test_an_empty_security_event_retention_keeps_them_all(rt: Runtime) -> None:
    ada = await signed_in(rt)
    old = await add_security_event(rt, ada.person, days_ago=4000)

    report = await _run(rt, rt.settings.model_copy(update={"security_event_retention": None}))

    assert old in await keys(rt.engine, SecurityEvent)
    assert "security_event" not in report.counts


async def test_a_dry_run_deletes_nothing_and_counts_what_a_run_deletes(rt: Runtime) -> None:
    world = await _world(rt)
    before = {table: await keys(rt.engine, model) for table, model in MODELS.items()}

    dry = await _run(rt, dry_run=True)

    assert dry.dry_run and dry.ran
    for table, model in MODELS.items():
        assert await keys(rt.engine, model) == before[table], table
    real = await _run(rt)
    assert dry.counts == real.counts
    assert dry.counts["session"] == len(world.gone["session"])


MODELS_BY_ENTITY: dict[str, Any] = {
    "person": Person,
    "login_method": LoginMethod,
    "otp_method": OtpMethod,
    "recovery_code": RecoveryCode,
    "passkey": Passkey,
    "session": AuthSession,
}


async def _entities_with_history(rt: Runtime) -> dict[str, tuple[str, int]]:
    """One current row of every entity, each changed once or twice (so each has history):
    entity name -> (entity_id, current version)."""
    ada = await signed_in(rt)
    owner = ada.person.entity_id
    async with rt.db() as db, db.begin():
        otp = OtpMethod(person_id=owner, secret_encrypted="sealed", confirmed=False)
        code = RecoveryCode(person_id=owner, code_hash="c" * 64)
        passkey = Passkey(
            person_id=owner,
            name="Laptop",
            credential_id="AAAA",
            credential_key="k" * 64,
            public_key="pk",
            created_at=ago(0),
        )
        db.add_all([otp, code, passkey])
    async with rt.db() as db, db.begin():
        person = await db.get_one(Person, owner)
        person.first_name = "Ada King"
        method = (await db.execute(select(LoginMethod))).scalar_one()
        method.user_name = "ada"
        session = (await db.execute(select(AuthSession))).scalar_one()
        session.user_agent = "renamed"
        otp = await db.get_one(OtpMethod, otp.entity_id)
        otp.confirmed = True
        code = await db.get_one(RecoveryCode, code.entity_id)
        code.used_at = ago(0)
        passkey = await db.get_one(Passkey, passkey.entity_id)
        passkey.name = "Old laptop"
    rows = [person, method, session, otp, code, passkey]
    return {row.__entity__: (row.entity_id, row.version) for row in rows}


async def _age_history(rt: Runtime, *, days: float) -> None:
    async with rt.engine.begin() as conn:
        for table in AUDIT_TABLES.values():
            await conn.execute(update(table).values(audited_on=ago(days)))


async def _reload(rt: Runtime, model: Any, entity_id: str) -> Any:
    async with rt.db() as db:
        return await db.get_one(model, entity_id)
