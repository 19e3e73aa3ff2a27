"""SMTP delivery with aiosmtplib: one connection, opened on first use and reopened when the
server dropped it; multipart text + HTML."""

from __future__ import annotations

import asyncio
import contextlib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib

from quart_template.email.messages import OutgoingEmail
from quart_template.email.render import render_email
from quart_template.events.destinations import PermanentDeliveryError
from quart_template.settings import Settings


def build_mime(email: OutgoingEmail, *, sender: str) -> EmailMessage:
    """The MIME message: text first, HTML as the preferred alternative."""
    rendered = render_email(email.event, email.data)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(email.to)
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=email.message_id, domain=domain)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def _permanent(exc: Exception) -> bool:
    """5xx for every recipient (no such mailbox) or for the data: retrying cannot help."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code >= 500 for refused in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPDataError) and exc.code >= 500


class SmtpBackend:
    """MAIL_USE_SSL is implicit TLS (port 465); MAIL_USE_TLS upgrades with STARTTLS."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.mail_server,
            port=s.mail_port,
            username=s.mail_username or None,
            password=s.mail_password if s.mail_username else None,
            use_tls=s.mail_use_ssl,
            start_tls=s.mail_use_tls,
            timeout=s.mail_timeout,
        )

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is None or not self._client.is_connected:
            self._client = self._new_client()
            await self._client.connect()
        return self._client

    def sends(self, event: str) -> bool:
        return True

    async def send(self, email: OutgoingEmail) -> None:
        message = build_mime(email, sender=self._settings.mail_default_sender)
        async with self._lock:  # one SMTP transaction at a time on the connection
            try:
                await (await self._connected()).send_message(message)
            except aiosmtplib.SMTPServerDisconnected:
                # The server closed an idle connection: one fresh attempt.
                await self._drop()
                await (await self._connected()).send_message(message)
            except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPDataError) as exc:
                await self._drop()
                if _permanent(exc):
                    raise PermanentDeliveryError(f"SMTP refused the message: {exc}") from exc
                raise
            except Exception:
                await self._drop()
                raise

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            with contextlib.suppress(Exception):
                client.close()

    async def aclose(self) -> None:
        async with self._lock:
            client, self._client = self._client, None
            if client is not None and client.is_connected:
                try:
                    await asyncio.wait_for(client.quit(), timeout=self._settings.mail_timeout)
                except Exception:
                    client.close()
