"""What an import leaves in the database: current rows with their old entity ids, history in
the audit tables, secrets sealed, tokens dropped, duplicates decided, no outbox rows; a second
run changes nothing and a dry run writes nothing."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from quart_template.accounts.models import LoginMethod, Person, person_audit
from quart_template.db import make_engine
from quart_template.events.outbox import OutboxMessage
from quart_template.legacy.command import run_import
from quart_template.legacy.report import Report
from quart_template.mfa.models import OtpMethod, RecoveryCode, recovery_code_audit
from quart_template.models import Base
from quart_template.settings import Settings
from tests.legacy.world import World


async def imported(settings: Settings, url: str, **options: Any) -> tuple[Report, str]:
    out = io.StringIO()
    report = await run_import(settings, from_url=url, out=out, **options)
    return report, out.getvalue()


async def snapshot(engine: AsyncEngine) -> dict[str, int]:
    """Row counts of every table here."""
    counts = {}
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = (
                await conn.execute(select(func.count()).select_from(table))
            ).scalar_one()
    return counts


async def test_current_rows_keep_their_ids_and_history_goes_to_the_audit_tables(
    settings: Settings, legacy_url: str, world: World
) -> None:
    report, output = await imported(settings, legacy_url)
    engine = make_engine(settings.database_url)
    async with engine.connect() as conn:
        ada = (
            await conn.execute(select(Person.__table__).where(Person.entity_id == world.ids["ada"]))
        ).one()
        history = (
            await conn.execute(
                select(person_audit)
                .where(person_audit.c.entity_id == world.ids["ada"])
                .order_by(person_audit.c.version)
            )
        ).all()
        tokens = (
            await conn.execute(
                select(func.count())
                .select_from(LoginMethod.__table__)
                .where(LoginMethod.access_token.is_not(None))
            )
        ).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
        rows = (await conn.execute(select(Person.entity_id, Person.verified))).all()
        verified = {entity_id: flag for entity_id, flag in rows}
    await engine.dispose()
    assert (ada.first_name, ada.last_name, ada.email_key) == ("Ada", "Lovelace", "ada@example.com")
    assert ada.version == 3 and ada.previous_version == 2 and ada.verified
    assert ada.password_hash.startswith("pbkdf2:sha256:")
    assert [(h.version, h.first_name, h.last_name) for h in history] == [
        (1, "Old", "User"),
        (2, "Ada", "User"),
    ]
    assert all(h.password_hash == "<redacted>" for h in history)
    assert verified[world.ids["una"]] is False and verified[world.ids["sam"]] is True
    assert tokens == 0  # old provider tokens are not carried over
    assert outbox == 0  # no events, no emails
    assert "Old access tokens" in output and "everyone signs in again" in output
    assert report.imported["person"] == 13
    assert report.history["person"] == 3  # ada's two earlier versions, dee's one before deletion
    assert output.strip().splitlines()[-1].startswith("import-legacy: imported 13 person")


async def test_deleted_rows_come_in_inactive_and_free_their_email(
    settings: Settings, legacy_url: str, world: World
) -> None:
    await imported(settings, legacy_url)
    engine = make_engine(settings.database_url)
    async with engine.connect() as conn:
        dee = (
            await conn.execute(select(Person.__table__).where(Person.entity_id == world.ids["dee"]))
        ).one()
        method = (
            await conn.execute(
                select(LoginMethod.__table__).where(
                    LoginMethod.entity_id == world.ids["dee_signup"]
                )
            )
        ).one()
    await engine.dispose()
    assert not dee.active and dee.email_key is None and dee.password_hash is None
    assert not method.active


async def test_duplicate_emails_are_reported_and_the_latest_verified_person_keeps_it(
    settings: Settings, legacy_url: str, world: World
) -> None:
    report, output = await imported(settings, legacy_url)
    engine = make_engine(settings.database_url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(Person.entity_id, Person.active, Person.email_key).where(
                    Person.entity_id.in_(
                        [world.ids["dup_a"], world.ids["dup_b"], world.ids["dup_c"]]
                    )
                )
            )
        ).all()
    await engine.dispose()
    state = {entity_id: (active, key) for entity_id, active, key in rows}
    assert state[world.ids["dup_b"]] == (True, "dup@example.com")
    assert state[world.ids["dup_a"]] == (False, None)
    assert state[world.ids["dup_c"]] == (False, None)
    for loser in ("dup_a", "dup_c"):
        assert f"person {world.ids[loser]}: imported inactive: email dup@example.com" in output
    assert report.inactive["person"] == 3  # the two duplicates and the deleted person


async def test_secrets_are_sealed_and_codes_hashed_on_the_way_in(
    settings: Settings, legacy_url: str, world: World
) -> None:
    await imported(settings, legacy_url)
    engine = make_engine(settings.database_url)
    async with engine.connect() as conn:
        otp = (
            await conn.execute(
                select(OtpMethod.__table__).where(OtpMethod.entity_id == world.ids["mia_otp"])
            )
        ).one()
        codes = (
            await conn.execute(
                select(RecoveryCode.__table__).where(RecoveryCode.person_id == world.ids["mia"])
            )
        ).all()
        mia = (
            await conn.execute(
                select(Person.mfa_enabled).where(Person.entity_id == world.ids["mia"])
            )
        ).scalar_one()
        stored = []
        for table in ("otp_method", "otp_method_audit", "recovery_code", "recovery_code_audit"):
            stored += (await conn.execute(text(f"SELECT * FROM {table}"))).all()
        dump = " ".join(str(value) for row in stored for value in row)
        audited = (
            await conn.execute(select(func.count()).select_from(recovery_code_audit))
        ).scalar_one()
    await engine.dispose()
    assert mia is True and otp.confirmed and otp.active
    assert otp.secret_encrypted.startswith("v2:")
    assert world.secret not in dump
    assert not any(code in dump for code in world.codes)
    assert sorted(c.active for c in codes) == [False, True, True, True]  # the used one is not
    assert audited == 1  # the used code's earlier, unused version


async def test_rows_that_cannot_come_are_listed_with_their_reason(
    settings: Settings, legacy_url: str, world: World
) -> None:
    report, output = await imported(settings, legacy_url)
    reasons = {(n.table, n.entity_id): n.reason for n in report.skipped}
    assert reasons == {
        ("recovery_code", world.ids["bad_code"]): "not a recovery code (32 hex characters)",
        ("login_method", world.ids["orphan_method"]): "its person is not in the old database",
        ("login_method", world.ids["ownerless_method"]): "its person is not in the old database",
    }
    for (table, entity_id), reason in reasons.items():
        assert f"{table} {entity_id}: {reason}" in output
    assert f"login_method {world.ids['nosub_method']}: no GitHub user id" in output


async def test_a_second_run_changes_nothing(
    settings: Settings, legacy_url: str, world: World
) -> None:
    first, _ = await imported(settings, legacy_url)
    engine = make_engine(settings.database_url)
    before = await snapshot(engine)
    second, output = await imported(settings, legacy_url)
    after = await snapshot(engine)
    await engine.dispose()
    assert after == before
    assert sum(second.imported.values()) == 0
    assert second.present == first.imported
    assert "0 person" in output.splitlines()[-1]


async def test_a_dry_run_reports_the_same_and_writes_nothing(
    settings: Settings, legacy_url: str, world: World
) -> None:
    engine = make_engine(settings.database_url)
    before = await snapshot(engine)
    dry, output = await imported(settings, legacy_url, dry_run=True)
    after = await snapshot(engine)
    await engine.dispose()
    assert after == before
    assert "dry run, nothing written" in output
    assert output.strip().splitlines()[-1].startswith("import-legacy: would import 13 person")
    real, _ = await imported(settings, legacy_url)
    assert (dry.imported, dry.inactive, dry.history) == (real.imported, real.inactive, real.history)
    assert [n.entity_id for n in dry.skipped] == [n.entity_id for n in real.skipped]
