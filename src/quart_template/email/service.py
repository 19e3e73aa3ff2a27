"""Email delivery: the outbox sender for the configured backend (EMAIL_BACKEND)."""

from __future__ import annotations

import logging

from quart_template.email.backends import ConsoleBackend, EmailBackend
from quart_template.email.messages import OutgoingEmail
from quart_template.email.payload import wire_form
from quart_template.events.destinations import PermanentDeliveryError
from quart_template.events.outbox import Claimed, email_body
from quart_template.mfa.crypto import DecryptionError
from quart_template.settings import ConfigError, Settings

log = logging.getLogger(__name__)


class EmailSender:
    """What the relay calls for `email` outbox rows; a failed send raises, so the row is
    retried later. An event the backend is set not to deliver (EMAIL_TRANSMITTER_EVENTS) is
    logged as skipped, without its data, and counts as delivered: the row keeps no body and
    is never retried. `key` opens the rows' sealed bodies. `aclose()` at shutdown closes the
    backend's connection."""

    def __init__(self, backend: EmailBackend, *, key: bytes) -> None:
        self.backend = backend
        self._key = key

    async def __call__(self, message: Claimed) -> None:
        try:
            email = outgoing_email(message, key=self._key)
        except DecryptionError as exc:
            # Retrying cannot help (another key, a damaged row): set it aside as dead.
            raise PermanentDeliveryError("the email cannot be decrypted") from exc
        if not self.backend.sends(email.event):
            log.info(
                "email skipped: its event is not in EMAIL_TRANSMITTER_EVENTS",
                extra={"event": "email_skipped", "email_event": email.event},
            )
            return
        await self.backend.send(email)
        log.info("email sent", extra={"event": "email_sent", "email_event": message.action})

    async def aclose(self) -> None:
        await self.backend.aclose()


def outgoing_email(message: Claimed, *, key: bytes) -> OutgoingEmail:
    """The email an outbox row holds (its sealed body is {"event", "to_emails", "data"}),
    with the event's documented data keys, whichever build recorded it."""
    body = email_body(message, key=key)
    event, data = wire_form(str(body["event"]), dict(body.get("data") or {}))
    return OutgoingEmail(
        event=event,
        to=[str(address) for address in body["to_emails"]],
        data=data,
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
        return RabbitMqBackend(
            settings.amqp_url,
            timeout=settings.mail_timeout,
            queue=settings.email_queue,
            queue_type=settings.email_queue_type,
            events=settings.transmitter_events,
        )
    if settings.email_backend == "console":
        return ConsoleBackend()
    raise ConfigError("EMAIL_BACKEND", f"unknown backend {settings.email_backend!r}")


def build_email_sender(settings: Settings) -> EmailSender:
    """The sender for the relay's `email` destination."""
    return EmailSender(build_backend(settings), key=settings.encryption_key)
