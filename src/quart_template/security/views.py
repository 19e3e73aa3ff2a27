"""HTTP route of the security history: what happened to my account, and from where."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response

from quart_template.runtime import runtime
from quart_template.schema import ResponseModel
from quart_template.security.service import latest_events
from quart_template.sessions.auth import current_caller, login_required
from quart_template.web import reply

blueprint = Blueprint("security", __name__)


class SecurityEventItem(ResponseModel):
    type: str
    at: int
    ip: str | None
    user_agent: str | None


class SecurityEventList(ResponseModel):
    success: bool = True
    events: list[SecurityEventItem]


@blueprint.get("/security_events")
@login_required
@document_response(SecurityEventList)
async def security_events() -> Response:
    """The caller's latest 50 security events, newest first."""
    rows = await latest_events(runtime(), person_id=current_caller().person.entity_id)
    events = [
        {
            "type": row.type,
            "at": int(row.at.timestamp()),
            "ip": row.ip,
            "user_agent": row.user_agent,
        }
        for row in rows
    ]
    return reply({"success": True, "events": events}, no_store=True)
