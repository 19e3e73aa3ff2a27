"""SMTP delivery through the real outbox relay to a real SMTP server (the aiosmtpd sink)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import aiosmtplib
import pytest

from quart_template.email.messages import PASSWORD_CHANGED, USER_CREATED, OutgoingEmail
from quart_template.email.smtp import SmtpBackend
from quart_template.events.destinations import PermanentDeliveryError
from quart_template.events.outbox import PENDING, SENT
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.smtp import SmtpSink
from tests.support.email import LINK, email_row, make_due, record_email
from tests.support.network import free_port


@pytest.fixture
def settings(smtp_settings: Settings) -> Settings:
    """The app of these tests sends real email to the sink."""
    return smtp_settings


async def test_relay_delivers_text_and_html(rt: Runtime, smtp_sink: SmtpSink) -> None:
    message_id = await record_email(
        rt,
        event=USER_CREATED,
        to="ada@example.com",
        data={"recipient_name": "Ada", "confirmation_link": LINK},
    )
    assert rt.relay is not None
    await rt.relay.drain()

    received = smtp_sink.last(to="ada@example.com")
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.mail_from == "no-reply@quart-template.test"
    assert received.subject == "Confirm your email address"
    assert received.message["From"] == "Quart Template <no-reply@quart-template.test>"
    assert received.message.get_content_type() == "multipart/alternative"
    assert "Hi Ada," in received.text and LINK in received.text
    assert f'href="{LINK}"' in received.html
    assert smtp_sink.link(to="ada@example.com") == LINK
    assert message_id in received.message["Message-ID"]
    assert (await email_row(rt, message_id)).status == SENT


async def test_one_connection_carries_several_emails(rt: Runtime, smtp_sink: SmtpSink) -> None:
    for n in range(3):
        await record_email(rt, event=PASSWORD_CHANGED, to=f"user{n}@example.com", data={})
    assert rt.relay is not None
    await rt.relay.drain()
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == [
        "user0@example.com",
        "user1@example.com",
        "user2@example.com",
    ]


async def test_refused_send_stays_in_the_outbox_and_is_retried(
    rt: Runtime, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_with = "451 4.3.0 Try again later"
    message_id = await record_email(rt, event=USER_CREATED, to="ada@example.com", data={})
    assert rt.relay is not None
    await rt.relay.drain()
    row = await email_row(rt, message_id)
    assert (row.status, row.attempts) == (PENDING, 1)
    assert smtp_sink.messages == []

    smtp_sink.fail_with = None
    await make_due(rt, message_id)
    await rt.relay.drain()
    assert (await email_row(rt, message_id)).status == SENT
    assert len(smtp_sink.to("ada@example.com")) == 1


def email(to: str = "ada@example.com") -> OutgoingEmail:
    return OutgoingEmail(
        event=USER_CREATED, to=[to], data={"confirmation_link": LINK}, message_id="abc"
    )


async def test_unreachable_server_raises(make_settings: Callable[..., Settings]) -> None:
    backend = SmtpBackend(make_settings(mail_server="127.0.0.1", mail_port=free_port()))
    with pytest.raises(aiosmtplib.SMTPException):
        await backend.send(email())
    await backend.aclose()


async def test_mailbox_refused_for_good_is_permanent(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_with = "554 5.7.1 Message rejected"
    backend = SmtpBackend(smtp_settings)
    with pytest.raises(PermanentDeliveryError):
        await backend.send(email())
    await backend.aclose()


async def test_reconnects_after_the_server_went_away(
    make_settings: Callable[..., Settings],
) -> None:
    first = SmtpSink()
    first.start()
    settings = make_settings(**first.settings_overrides())
    backend = SmtpBackend(settings)
    try:
        await backend.send(email("one@example.com"))
        first.stop()  # the server closes the connection the backend keeps
        second = SmtpSink(port=first.port)
        second.start()
        try:
            await backend.send(email("two@example.com"))
        finally:
            second.stop()
    finally:
        await backend.aclose()
    assert [m.rcpt_tos for m in first.messages] == [["one@example.com"]]
    assert [m.rcpt_tos for m in second.messages] == [["two@example.com"]]


@pytest.fixture
def login_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(login=("mailer", "s3cret"))
    sink.start()
    yield sink
    sink.stop()


async def test_logs_in_with_mail_username_and_password(
    make_settings: Callable[..., Settings], login_sink: SmtpSink
) -> None:
    settings = make_settings(
        **login_sink.settings_overrides(), mail_username="mailer", mail_password="s3cret"
    )
    backend = SmtpBackend(settings)
    await backend.send(email())
    await backend.aclose()
    assert login_sink.logins == ["mailer"]
    assert len(login_sink.messages) == 1

    wrong = SmtpBackend(
        make_settings(
            **login_sink.settings_overrides(), mail_username="mailer", mail_password="nope"
        )
    )
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await wrong.send(email())
    await wrong.aclose()
