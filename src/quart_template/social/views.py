"""HTTP routes of social."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("social", __name__)
