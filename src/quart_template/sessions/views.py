"""HTTP routes of sessions."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("sessions", __name__)
