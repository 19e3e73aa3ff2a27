"""The email queue read the way the EcorRouge email-transmitter reads it, with rococo's own
classes from PyPI, against the real broker: `RabbitMqConnection.consume_messages` (the loop
rococo-service-host runs: `json.loads(body.decode())`, one message at a time, the callback
given the dict) calling a `BaseServiceProcessor` like the transmitter's, whose rococo
`MailjetService.send_email` reads `event`, `data`, `to_emails`, looks the event up in
config.json and hands `data` to the Mailjet template unchanged. Only the HTTP call to Mailjet
is replaced (by a recorder). Runs when TEST_AMQP_URL is set (CI), else skipped.

rococo's consumer is blocking (pika) and loops until a KeyboardInterrupt (its
EXIT_WHEN_FINISHED only leaves the inner loop in 1.3.4), so it runs in a thread here and is
stopped by raising KeyboardInterrupt inside its own connection, through pika's thread-safe
callback queue."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quart_template.app import create_app
from quart_template.email.messages import DATA_KEYS, RESET_PASSWORD, USER_CREATED
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.support.accounts import SIGNUP, link_path

SEED_EVENTS = (USER_CREATED, RESET_PASSWORD)
# config.json as README "Email through the email-transmitter" tells an operator to write it.
CONFIG = {
    "configurations": [
        {
            "provider": "mailjet",
            "sourceEmail": "Quart Template <no-reply@example.com>",
            "errorReportingEmail": "",
        }
    ],
    "events": {
        USER_CREATED: {
            "subject": "Confirm your email address",
            "templateName": "USER_CREATED",
            "id": {"mailjet": 1001},
        },
        RESET_PASSWORD: {
            "subject": "Reset your password",
            "templateName": "RESET_PASSWORD",
            "id": {"mailjet": 1002},
        },
    },
}
# The Mailjet templates of a seed-era deployment (Mailjet's template language).
TEMPLATES = {
    1001: "Hi {{var:recipient_name}}, please confirm your address: {{var:confirmation_link}}",
    1002: "Hi {{var:recipient_name}}, choose a new password: {{var:password_reset_url}}",
}


def mailjet_render(template: str, variables: dict[str, Any]) -> str:
    """Mailjet's `{{var:name}}`: a variable the message does not carry is an error (the
    template error report), never an empty hole."""
    return re.sub(r"\{\{var:(\w+)\}\}", lambda m: str(variables[m.group(1)]), template)


class RecordedMailjet:
    """Stands in for `mailjet_rest.Client`: `client.send.create(data=...)` records the send."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.send = self

    def create(self, data: dict[str, Any]) -> None:
        self.sent.append(data)


class Transmitter:
    """rococo's consumer and a processor like the email-transmitter's, in a thread."""

    def __init__(self, url: str, queue: str, config_path: Path, expected: int) -> None:
        from rococo.emailing.factory import email_factory
        from rococo.messaging import RabbitMqConnection

        parts = urlsplit(url)
        self.connection = RabbitMqConnection(
            parts.hostname or "127.0.0.1",
            parts.port or 5672,
            unquote(parts.username or "guest"),
            unquote(parts.password or "guest"),
            unquote(parts.path[1:]) or "/",
        )
        self.email_service = email_factory.get(
            CONFIG_FILEPATH=str(config_path),
            EMAIL_PROVIDER="mailjet",
            MAILJET_API_KEY="test",
            MAILJET_API_SECRET="test",
        )
        self.mailjet = RecordedMailjet()
        self.email_service.client = self.mailjet
        self.queue = queue
        self.expected = expected
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rococo-consumer", daemon=True)

    def process(self, message: dict[str, Any]) -> None:
        """The email-transmitter's EmailServiceProcessor.process."""
        self.email_service.send_email(message)
        if len(self.mailjet.sent) >= self.expected:
            self.done.set()

    def _run(self) -> None:
        with self.connection as connection:
            connection.consume_messages(queue_name=self.queue, callback_function=self.process)

    def stop(self) -> None:
        """Ends rococo's loop from another thread (its `except KeyboardInterrupt: break`)."""

        def interrupt() -> None:
            raise KeyboardInterrupt

        if not self.thread.is_alive():
            return
        pika_connection = self.connection._connection  # rococo keeps pika's connection here
        if pika_connection is not None and pika_connection.is_open:
            pika_connection.add_callback_threadsafe(interrupt)
        self.thread.join(timeout=15)


@pytest.fixture
def transmitter_url() -> str:
    """Only with TEST_AMQP_URL: CI sets it; a plain `make test` skips."""
    url = os.environ.get("TEST_AMQP_URL")
    if not url:
        pytest.skip("consumes with rococo against the broker: set TEST_AMQP_URL")
    return url


@pytest.fixture
async def transmitter_queue(transmitter_url: str) -> AsyncIterator[str]:
    name = f"qt-test-transmitter-{uuid.uuid4().hex[:12]}"
    yield name
    connection = await aio_pika.connect(transmitter_url)
    channel = await connection.channel()
    await channel.queue_delete(name)
    await connection.close()


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIG))
    return path


@pytest.fixture
async def seed_app(
    make_settings: Callable[..., Settings], transmitter_url: str, transmitter_queue: str
) -> AsyncIterator[Quart]:
    """EMAIL_BACKEND=rabbitmq on this test's queue, publishing the seed's two events only."""
    settings = make_settings(
        email_backend="rabbitmq",
        amqp_url_=transmitter_url,
        email_queue=transmitter_queue,
        email_transmitter_events=",".join(SEED_EVENTS),
    )
    application = create_app(settings)
    async with application.test_app() as test_app:
        yield test_app.app  # type: ignore[misc]


@pytest.fixture
def running(transmitter_url: str) -> Iterator[list[Transmitter]]:
    """Stops every transmitter a test started, whatever happened."""
    started: list[Transmitter] = []
    yield started
    for transmitter in started:
        transmitter.stop()


async def _queued(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    declared = await channel.declare_queue(queue, durable=True, passive=True)
    await connection.close()
    return int(declared.declaration_result.message_count or 0)


async def test_the_transmitter_gets_both_seed_events_with_exactly_the_seed_keys(
    seed_app: Quart,
    transmitter_url: str,
    transmitter_queue: str,
    config_path: Path,
    running: list[Transmitter],
) -> None:
    client: Client = seed_app.test_client()
    rt: Runtime = seed_app.extensions["runtime"]
    email = SIGNUP["email"]
    assert (await client.post("/signup", json=SIGNUP)).status_code == 201
    await client.post("/signup", json=SIGNUP)  # ACCOUNT_EXISTS: not listed, not published
    await client.post("/resend_confirmation", json={"email": email})
    await client.post("/forgot_password", json={"email": email})
    assert rt.relay is not None
    await rt.relay.drain()
    assert await _queued(transmitter_url, transmitter_queue) == 3

    transmitter = Transmitter(transmitter_url, transmitter_queue, config_path, expected=3)
    running.append(transmitter)
    transmitter.thread.start()
    assert await asyncio.to_thread(transmitter.done.wait, 30), transmitter.mailjet.sent

    messages = [send["Messages"][0] for send in transmitter.mailjet.sent]
    by_template = {1001: USER_CREATED, 1002: RESET_PASSWORD}
    events = sorted(by_template[m["TemplateID"]] for m in messages)
    assert events == [RESET_PASSWORD, USER_CREATED, USER_CREATED]  # sign-up, resend, reset
    for message in messages:
        event = by_template[message["TemplateID"]]
        assert message["To"] == [{"Email": email}]
        assert message["From"] == {"Name": "Quart Template", "Email": "no-reply@example.com"}
        assert set(message["Variables"]) == set(DATA_KEYS[event])  # exactly the seed's keys
        assert message["Variables"]["recipient_name"] == SIGNUP["first_name"]
        rendered = mailjet_render(TEMPLATES[message["TemplateID"]], message["Variables"])
        assert rendered.startswith(f"Hi {SIGNUP['first_name']}, ")

    # The links the transmitter mailed work.
    [reset] = [m["Variables"] for m in messages if m["TemplateID"] == 1002]
    confirm = [m["Variables"] for m in messages if m["TemplateID"] == 1001][-1]
    token, uidb64 = link_path(confirm["confirmation_link"], "login")
    assert (await client.post(f"/verify/{token}/{uidb64}")).status_code == 200
    token, uidb64 = link_path(reset["password_reset_url"], "reset-password")
    body = {"password": "another long passphrase"}
    assert (await client.post(f"/reset_password/{token}/{uidb64}", json=body)).status_code == 200
