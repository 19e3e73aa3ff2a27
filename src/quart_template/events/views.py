"""Pusher private-channel authentication."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("events", __name__)
