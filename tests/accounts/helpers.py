"""Reading what the service sent: emails recorded in the outbox, links inside them."""

from __future__ import annotations

from typing import Any

from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.events.outbox import EMAIL, OutboxMessage
from quart_template.runtime import Runtime
from tests.factories import DEFAULT_PASSWORD

SIGNUP = {
    "login_method": "signup",
    "first_name": "Grace",
    "last_name": "Hopper",
    "email": "grace@example.com",
    "password": "a long enough passphrase",
}


async def emails(
    rt: Runtime, *, event: str | None = None, to: str | None = None
) -> list[dict[str, Any]]:
    """The emails recorded so far (`{event, to_emails, data}`), oldest first."""
    async with rt.db() as db:
        rows = (
            await db.execute(
                select(OutboxMessage)
                .where(OutboxMessage.destination == EMAIL)
                .order_by(OutboxMessage.id)
            )
        ).scalars()
        bodies = [row.body() for row in rows]
    return [
        body
        for body in bodies
        if (event is None or body["event"] == event) and (to is None or to in body["to_emails"])
    ]


async def last_link(rt: Runtime, *, event: str, to: str) -> str:
    found = await emails(rt, event=event, to=to)
    assert found, f"no {event} email to {to}"
    link: str = found[-1]["data"]["link"]
    return link


def link_path(link: str, route: str) -> tuple[str, str]:
    """(token, uidb64) from a frontend link such as .../session/login/<token>/<uidb64>."""
    marker = f"/session/{route}/"
    assert marker in link, link
    token, uidb64 = link.split(marker, 1)[1].split("/")
    return token, uidb64


async def log_in(
    client: Client, email: str = "ada@example.com", password: str = DEFAULT_PASSWORD
) -> Any:
    return await client.post("/login", json={"email": email, "password": password})
