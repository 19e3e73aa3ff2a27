"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every email it receives, so tests
read the verification and reset links out of the real messages.

Fixtures (registered for every test through `pytest_plugins` in tests/conftest.py):
- `smtp_sink`: the running sink, emptied for this test (`.messages`, `.last(to=)`, `.link(to=)`);
- `smtp_settings`: `settings` with EMAIL_BACKEND=smtp pointing at the sink. To make the `app`,
  `client` and `rt` fixtures send real email, override `settings` in a test module:

      @pytest.fixture
      def settings(smtp_settings): return smtp_settings
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from quart_template.settings import Settings

LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass
class ReceivedEmail:
    """One delivered message, parsed."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())  # type: ignore[attr-defined]

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return "" if part is None else str(part.get_content())  # type: ignore[attr-defined]

    def links(self) -> list[str]:
        """Every link in the text body, in order."""
        return LINK.findall(self.text)


class SmtpSink:
    """aiosmtpd in its own thread; `fail_with` makes it refuse mail with that SMTP reply."""

    def __init__(self, *, login: tuple[str, str] | None = None, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.messages: list[ReceivedEmail] = []
        self.fail_with: str | None = None
        self.logins: list[str] = []
        self._login = login
        params: dict[str, Any] = {}
        if login is not None:
            params = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(self, hostname=self.host, port=self.port, **params)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def clear(self) -> None:
        self.messages.clear()
        self.logins.clear()
        self.fail_with = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_with:
            return self.fail_with
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(ReceivedEmail(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and self._login is not None:
            given = (data.login.decode(), data.password.decode())
            if given == self._login:
                self.logins.append(given[0])
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def to(self, address: str) -> list[ReceivedEmail]:
        """The emails sent to this address, oldest first."""
        wanted = address.lower()
        return [m for m in self.messages if wanted in (r.lower() for r in m.rcpt_tos)]

    def last(self, to: str | None = None) -> ReceivedEmail:
        """The latest email (to this address); fails the test when there is none."""
        found = self.to(to) if to else self.messages
        assert found, f"no email received{f' for {to}' if to else ''}"
        return found[-1]

    def link(self, to: str | None = None) -> str:
        """The first link of the latest email (to this address)."""
        links = self.last(to).links()
        assert links, "the email has no link"
        return links[0]

    def settings_overrides(self) -> dict[str, Any]:
        """`make_settings(**sink.settings_overrides())` sends through this sink."""
        return {
            "email_backend": "smtp",
            "mail_server": self.host,
            "mail_port": self.port,
            "mail_use_tls": False,
            "mail_use_ssl": False,
            "mail_default_sender": "Quart Template <no-reply@quart-template.test>",
            "mail_timeout": 5.0,
        }


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpSink]:
    """One sink for the whole run (use `smtp_sink`, which empties it per test)."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(smtp_server: SmtpSink) -> Iterator[SmtpSink]:
    """The running SMTP sink, empty at the start of the test."""
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()


@pytest.fixture
def smtp_settings(make_settings: Callable[..., Settings], smtp_sink: SmtpSink) -> Settings:
    """Settings whose email goes through SMTP to `smtp_sink`."""
    return make_settings(**smtp_sink.settings_overrides())
