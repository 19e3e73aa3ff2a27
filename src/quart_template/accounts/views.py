"""HTTP routes of accounts."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("accounts", __name__)
