"""Accounts over HTTP: the sign-up body, logging in, and the links the service emailed (read
from the outbox)."""

from __future__ import annotations

from typing import Any

from quart.typing import TestClientProtocol as Client

from quart_template.email.messages import LINK_KEYS
from quart_template.runtime import Runtime
from tests.support.email import all_emails
from tests.support.factories import DEFAULT_PASSWORD

SIGNUP = {
    "login_method": "signup",
    "first_name": "Grace",
    "last_name": "Hopper",
    "email": "grace@example.com",
    "password": "a long enough passphrase",
}
# The keys of the user object that comes with an access token.
USER_FIELDS = {
    "access_token",
    "active",
    "email",
    "entity_id",
    "first_name",
    "last_name",
    "latest",
    "login_method",
    "verified",
    "verified_on",
    "mfa_enabled",
    "expires_in",
}


async def emails(
    rt: Runtime, *, event: str | None = None, to: str | None = None
) -> list[dict[str, Any]]:
    """The emails recorded so far (`{event, to_emails, data}`), oldest first."""
    return [
        body
        for body in await all_emails(rt)
        if (event is None or body["event"] == event) and (to is None or to in body["to_emails"])
    ]


async def last_link(rt: Runtime, *, event: str, to: str) -> str:
    found = await emails(rt, event=event, to=to)
    assert found, f"no {event} email to {to}"
    link: str = found[-1]["data"][LINK_KEYS[event]]
    return link


def link_path(link: str, route: str) -> tuple[str, str]:
    """(token, uidb64) from a frontend link such as .../session/login/<token>/<uidb64>."""
    marker = f"/session/{route}/"
    assert marker in link, link
    token, uidb64 = link.split(marker, 1)[1].split("/")
    return token, uidb64


async def signup_link(client: Client, rt: Runtime, email: str = SIGNUP["email"]) -> tuple[str, str]:
    """Sign up through /signup: (token, uidb64) of the verification link emailed."""
    await client.post("/signup", json={**SIGNUP, "email": email})
    return link_path(await last_link(rt, event="USER_CREATED", to=email), "login")


async def reset_link(
    client: Client, rt: Runtime, email: str = "ada@example.com"
) -> tuple[str, str]:
    """Ask /forgot_password: (token, uidb64) of the reset link emailed."""
    response = await client.post("/forgot_password", json={"email": email})
    assert response.status_code == 200
    return link_path(await last_link(rt, event="RESET_PASSWORD", to=email), "reset-password")


async def log_in(
    client: Client,
    email: str = "ada@example.com",
    password: str = DEFAULT_PASSWORD,
    **request: Any,
) -> Any:
    """POST /login; keyword arguments go to the request (headers, scope_base)."""
    return await client.post("/login", json={"email": email, "password": password}, **request)


async def access_token(response: Any) -> str:
    """The access token of a login answer (which must have succeeded)."""
    body = await response.get_json()
    assert response.status_code == 200, body
    token: str = body["user"]["access_token"]
    return token
