"""Email delivery: the outbox sender for the configured backend (EMAIL_BACKEND)."""

from __future__ import annotations

import logging

from quart_template.email.backends import ConsoleBackend, EmailBackend
from quart_template.email.messages import OutgoingEmail
from quart_template.events.outbox import OutboxMessage
from quart_template.settings import ConfigError, Settings

log = logging.getLogger(__name__)


class EmailSender:
    """What the relay calls for `email` outbox rows; a failed send raises, so the row is
    retried later. `aclose()` at shutdown closes the backend's connection."""

    def __init__(self, backend: EmailBackend) -> None:
        self.backend = backend

    async def __call__(self, message: OutboxMessage) -> None:
        await self.backend.send(outgoing_email(message))
        log.info("email sent", extra={"event": "email_sent", "email_event": message.action})

    async def aclose(self) -> None:
        await self.backend.aclose()


def outgoing_email(message: OutboxMessage) -> OutgoingEmail:
    """The email an outbox row holds (its body is {"event", "to_emails", "data"})."""
    body = message.body()
    return OutgoingEmail(
        event=str(body["event"]),
        to=[str(address) for address in body["to_emails"]],
        data=dict(body.get("data") or {}),
        message_id=message.message_id,
    )


def build_backend(settings: Settings) -> EmailBackend:
    """The backend EMAIL_BACKEND names."""
    if settings.email_backend == "smtp":
        from quart_template.email.smtp import SmtpBackend

        return SmtpBackend(settings)
    if settings.email_backend == "rabbitmq":
        from quart_template.email.rabbitmq import RabbitMqBackend

        if not settings.amqp_url:
            raise ConfigError("EMAIL_BACKEND", "rabbitmq needs AMQP_URL (or BROKER_PATH)")
        return RabbitMqBackend(settings.amqp_url, timeout=settings.mail_timeout)
    if settings.email_backend == "console":
        return ConsoleBackend()
    raise ConfigError("EMAIL_BACKEND", f"unknown backend {settings.email_backend!r}")


def build_email_sender(settings: Settings) -> EmailSender:
    """The sender for the relay's `email` destination."""
    return EmailSender(build_backend(settings))
