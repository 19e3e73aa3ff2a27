"""The console backend (development default) logs the message, link included, at INFO."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from quart_template.email.messages import RESET_PASSWORD
from quart_template.email.service import EmailSender, build_email_sender
from quart_template.events.outbox import SENT
from quart_template.runtime import Runtime
from quart_template.settings import ConfigError, Settings
from tests.support.email import LINK, email_row, record_email


async def test_console_logs_subject_recipient_and_link(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="quart_template.email"):
        message_id = await record_email(
            rt, event=RESET_PASSWORD, to="ada@example.com", data={"link": LINK}
        )
        assert rt.relay is not None
        await rt.relay.drain()
    logged = [r.getMessage() for r in caplog.records if r.name == "quart_template.email.backends"]
    assert len(logged) == 1
    assert "ada@example.com" in logged[0]
    assert "Subject: Reset your password" in logged[0]
    assert LINK in logged[0]
    assert (await email_row(rt, message_id)).status == SENT
    # nothing else the email service logged carries the link
    others = [r.getMessage() for r in caplog.records if r.name != "quart_template.email.backends"]
    assert not any(LINK in line for line in others)


def test_default_backend_is_console(settings: Settings) -> None:
    sender = build_email_sender(settings)
    assert isinstance(sender, EmailSender)
    assert type(sender.backend).__name__ == "ConsoleBackend"


def test_rabbitmq_backend_needs_a_broker(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(email_backend="rabbitmq", amqp_url_=None, broker_path=None)
    with pytest.raises(ConfigError) as error:
        build_email_sender(settings)
    assert error.value.variable == "EMAIL_BACKEND"
    with pytest.raises(ConfigError):
        settings.check()
