"""HTTP routes of sessions: who is calling (`/me`, and `/auth/check` for reverse proxies),
where you are signed in, and signing out one of them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from quart import Blueprint, Response
from quart_schema import document_response

from quart_template.errors import NotFound
from quart_template.openapi import answers, plain_answer
from quart_template.runtime import runtime
from quart_template.schema import Message, ResponseModel
from quart_template.sessions.auth import current_caller, login_required
from quart_template.sessions.models import AuthSession
from quart_template.sessions.service import end_session, sessions_of
from quart_template.signin.responses import Profile, profile_fields
from quart_template.web import NO_STORE, client_info, reply

blueprint = Blueprint("sessions", __name__)

CHECK_HEADERS = ("X-User-Id", "X-User-Email", "X-User-Verified", "X-User-MFA", "X-Session-Id")
UNKNOWN_SESSION = "Session not found."
REVOKED = "Session revoked."


class MeResponse(ResponseModel):
    success: bool = True
    user: Profile


@blueprint.get("/me")
@login_required
@document_response(MeResponse)
async def me() -> Response:
    """The caller's user object (without the token; `expires_in` is this session's expiry):
    what a front end asks after a reload, and another service to learn whose a token is."""
    caller = current_caller()
    user = profile_fields(caller.person, expires_at=caller.session.expires_at)
    return reply({"success": True, "user": user}, no_store=True)


@blueprint.get("/auth/check")
@login_required
@plain_answer(
    media_type=None, description="Signed in: who it is, in headers.", headers=CHECK_HEADERS
)
async def auth_check() -> Response:
    """Forward auth for reverse proxies (nginx `auth_request`, Traefik `forwardAuth`, Caddy
    `forward_auth`): 200 with an empty body and `X-User-Id`, `X-User-Email`,
    `X-User-Verified`, `X-User-MFA`, `X-Session-Id`; 401 for a missing or bad token."""
    caller = current_caller()
    person = caller.person
    headers = {
        "X-User-Id": person.entity_id,
        "X-User-Email": _header_safe(person.email),
        "X-User-Verified": "true" if person.verified else "false",
        "X-User-MFA": "true" if person.mfa_enabled else "false",
        "X-Session-Id": caller.session.entity_id,
        **NO_STORE,
    }
    return Response("", status=200, headers=headers)


def _header_safe(value: str) -> str:
    """Header values are ASCII: an internationalised address travels percent-encoded."""
    return value if value.isascii() else quote(value, safe="@+.")


class SessionItem(ResponseModel):
    id: str
    created: int
    last_used: int
    expires: int
    ip: str | None
    user_agent: str | None
    current: bool


class SessionList(ResponseModel):
    success: bool = True
    sessions: list[SessionItem]


def _item(row: AuthSession, *, current_id: str) -> dict[str, Any]:
    return {
        "id": row.entity_id,
        "created": int(row.created_at.timestamp()),
        "last_used": int(row.last_used_at.timestamp()),
        "expires": int(row.expires_at.timestamp()),
        "ip": row.ip,
        "user_agent": row.user_agent,
        "current": row.entity_id == current_id,
    }


@blueprint.get("/sessions")
@login_required
@document_response(SessionList)
async def list_sessions() -> Response:
    """The caller's live sessions, newest first, the current one marked."""
    caller = current_caller()
    rows = await sessions_of(runtime(), person_id=caller.person.entity_id)
    items = [_item(row, current_id=caller.session.entity_id) for row in rows]
    return reply({"success": True, "sessions": items}, no_store=True)


@blueprint.delete("/sessions/<session_id>")
@login_required
@answers(404)
@document_response(Message)
async def revoke(session_id: str) -> Response:
    """Sign out one of the caller's sessions (any of them, the current one included)."""
    caller = current_caller()
    ended = await end_session(
        runtime(),
        person_id=caller.person.entity_id,
        session_id=session_id[:64],
        client=client_info(),
        event="session_revoked",
    )
    if not ended:
        raise NotFound(UNKNOWN_SESSION)
    return reply({"success": True, "message": REVOKED})
