"""How the import runs: batch by batch (an interrupted run carries on where it stopped),
events only when asked, and the command line."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from quart_template import cli
from quart_template.accounts.models import Person
from quart_template.db import make_engine
from quart_template.events.outbox import OutboxMessage
from quart_template.legacy import command
from quart_template.legacy.command import run_import
from quart_template.settings import Settings
from tests.legacy.world import World


async def _count(settings: Settings, model: Any) -> int:
    engine = make_engine(settings.database_url)
    async with engine.connect() as conn:
        found = (await conn.execute(select(func.count()).select_from(model))).scalar_one()
    await engine.dispose()
    return int(found)


async def test_an_interrupted_run_carries_on_where_it_stopped(
    settings: Settings, legacy_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = command.write_batch
    calls = 0

    async def fail_on_the_third(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("the machine went away")
        await write(*args, **kwargs)

    monkeypatch.setattr(command, "write_batch", fail_on_the_third)
    with pytest.raises(RuntimeError):
        await run_import(settings, from_url=legacy_url, out=io.StringIO(), batch_size=3)
    assert await _count(settings, Person) == 6  # two batches committed, the third rolled back
    monkeypatch.setattr(command, "write_batch", write)
    report = await run_import(settings, from_url=legacy_url, out=io.StringIO(), batch_size=3)
    assert report.present["person"] == 6
    assert report.imported["person"] == 7
    assert await _count(settings, Person) == 13


async def test_events_are_recorded_only_when_asked(
    make_settings: Callable[..., Settings], legacy_url: str, world: World
) -> None:
    settings = make_settings(amqp_url_="amqp://guest:guest@127.0.0.1:1/", relay_in_app=False)
    await run_import(settings, from_url=legacy_url, out=io.StringIO())
    assert await _count(settings, OutboxMessage) == 0


async def test_emit_events_records_one_create_event_per_imported_row(
    make_settings: Callable[..., Settings], legacy_url: str, world: World
) -> None:
    settings = make_settings(amqp_url_="amqp://guest:guest@127.0.0.1:1/", relay_in_app=False)
    report = await run_import(settings, from_url=legacy_url, out=io.StringIO(), emit_events=True)
    engine = make_engine(settings.database_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(OutboxMessage.kind, OutboxMessage.action))).all()
    await engine.dispose()
    assert len(rows) == sum(report.imported.values())
    assert set(rows) == {("entity", "create")}  # and never an email


def test_the_command_line_runs_a_dry_run(
    settings: Settings,
    legacy_url: str,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "load_settings", lambda: settings)
    assert cli.main(["import-legacy", "--from", legacy_url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run, nothing written" in out
    assert out.strip().splitlines()[-1].startswith("import-legacy: would import 13 person")


def test_an_unreadable_source_is_one_line_and_exit_1(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "load_settings", lambda: settings)
    assert cli.main(["import-legacy", "--from", "postgresql://nowhere/db"]) == 1
    assert "import-legacy" in capsys.readouterr().err
