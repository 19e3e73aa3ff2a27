"""An email's outbox row is encrypted while it waits and emptied once it went out or was refused
for good: a database dump holds no live link. Delivery through a real SMTP server (the sink)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import update

from quart_template.email.messages import RESET_PASSWORD
from quart_template.events.outbox import (
    DEAD,
    PENDING,
    SENT,
    SPENT_EMAIL,
    OutboxMessage,
    email_body,
)
from quart_template.lifecycle import running
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.smtp import SmtpSink
from tests.support.at_rest import table_text
from tests.support.email import LINK, email_row, record_email

TOKEN = "tok.en-123"  # the token part of LINK
DATA = {"recipient_name": "Ada", "password_reset_url": LINK}


@pytest.fixture
def settings(smtp_settings: Settings) -> Settings:
    return smtp_settings


@pytest.fixture
def held_settings(make_settings: Callable[..., Settings], smtp_sink: SmtpSink) -> Settings:
    """SMTP to the sink, and no relay until the test drains the outbox itself."""
    return make_settings(relay_in_app=False, **smtp_sink.settings_overrides())


async def test_a_waiting_email_is_encrypted_and_a_sent_one_emptied(
    held_settings: Settings, smtp_sink: SmtpSink
) -> None:
    async with running(held_settings) as rt:
        message_id = await record_email(rt, event=RESET_PASSWORD, to="ada@example.com", data=DATA)
        row = await email_row(rt, message_id)
        assert row.status == PENDING
        dump = await table_text(rt, "outbox")
        assert TOKEN not in dump and "ada@example.com" not in dump
        assert email_body(row, key=held_settings.encryption_key)["data"] == DATA

        assert rt.relay is not None
        await rt.relay.drain()
        assert smtp_sink.link(to="ada@example.com") == LINK
        row = await email_row(rt, message_id)
        assert (row.status, row.payload) == (SENT, SPENT_EMAIL)
        assert TOKEN not in await table_text(rt, "outbox")


async def test_an_email_refused_for_good_is_emptied_too(rt: Runtime, smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with = "554 5.7.1 Message rejected"
    message_id = await record_email(rt, event=RESET_PASSWORD, to="ada@example.com", data=DATA)
    assert rt.relay is not None
    await rt.relay.drain()
    row = await email_row(rt, message_id)
    assert (row.status, row.payload) == (DEAD, SPENT_EMAIL)
    assert TOKEN not in await table_text(rt, "outbox")


async def test_a_body_moved_to_another_row_does_not_open(
    held_settings: Settings, smtp_sink: SmtpSink
) -> None:
    async with running(held_settings) as rt:
        original = await record_email(rt, event=RESET_PASSWORD, to="ada@example.com", data=DATA)
        other = await record_email(rt, event=RESET_PASSWORD, to="eve@example.com", data={})
        sealed = (await email_row(rt, original)).payload
        async with rt.db() as db, db.begin():
            await db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.message_id == other)
                .values(payload=sealed)
            )
        assert rt.relay is not None
        await rt.relay.drain()
        assert (await email_row(rt, other)).status == DEAD  # never retried: it cannot open
        assert (await email_row(rt, original)).status == SENT
        assert [m.rcpt_tos for m in smtp_sink.messages] == [["ada@example.com"]]
