"""The interface every email backend keeps, and the console backend (development)."""

from __future__ import annotations

import logging
from typing import Protocol

from quart_template.email.messages import OutgoingEmail
from quart_template.email.render import render_email

log = logging.getLogger(__name__)


class EmailBackend(Protocol):
    """Delivers one email or raises (the outbox relay then retries later)."""

    def sends(self, event: str) -> bool:
        """False for an event this backend is set not to deliver (it is skipped)."""
        ...

    async def send(self, email: OutgoingEmail) -> None: ...

    async def aclose(self) -> None: ...


class ConsoleBackend:
    """Logs the rendered text, links included: the only place a link is ever logged, which is
    why this backend is for development only."""

    def sends(self, event: str) -> bool:
        return True

    async def send(self, email: OutgoingEmail) -> None:
        rendered = render_email(email.event, email.data)
        log.info(
            "email to %s\nSubject: %s\n\n%s",
            ", ".join(email.to),
            rendered.subject,
            rendered.text,
            extra={"event": "email_console", "email_event": email.event},
        )

    async def aclose(self) -> None:
        return None
