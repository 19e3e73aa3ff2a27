"""HTTP routes of sessions: see where you are signed in, sign out one of them."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response
from quart_schema import document_response

from quart_template.errors import NotFound
from quart_template.runtime import runtime
from quart_template.schema import Message, ResponseModel
from quart_template.sessions.auth import current_caller, login_required
from quart_template.sessions.models import AuthSession
from quart_template.sessions.service import end_session, sessions_of
from quart_template.web import client_info, reply

blueprint = Blueprint("sessions", __name__)

UNKNOWN_SESSION = "Session not found."
REVOKED = "Session revoked."


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
