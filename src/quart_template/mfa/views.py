"""HTTP routes of mfa."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("mfa", __name__)
