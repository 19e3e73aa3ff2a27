"""Email delivery: the outbox sender for the configured backend."""

from __future__ import annotations

import logging

from quart_template.events.outbox import OutboxMessage
from quart_template.events.relay import Sender
from quart_template.settings import Settings

log = logging.getLogger(__name__)


def build_email_sender(settings: Settings) -> Sender:
    """The sender the relay calls for `email` rows (console until the backends land)."""

    async def send(message: OutboxMessage) -> None:
        body = message.body()
        log.info("email", extra={"event": "email", "email_event": body.get("event")})

    return send
