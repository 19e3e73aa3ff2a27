"""Starts and stops event delivery with the app."""

from __future__ import annotations

from quart_template.events.relay import OutboxRelay, Sender
from quart_template.runtime import Runtime


def build_senders(rt: Runtime) -> dict[str, Sender]:
    """One sender per configured destination."""
    from quart_template.email.service import build_email_sender

    senders: dict[str, Sender] = {"email": build_email_sender(rt.settings)}
    return senders


async def start_events(rt: Runtime, *, force_relay: bool = False) -> None:
    """Create the relay; run it in-app unless RELAY_IN_APP=false (or always, for `relay`)."""
    rt.relay = OutboxRelay(rt.db, build_senders(rt))
    rt.db.kw["info"]["commit_signal"].listeners.append(rt.relay.kick)
    if rt.settings.relay_in_app or force_relay:
        rt.relay.start()


async def stop_events(rt: Runtime) -> None:
    """Stop the relay cleanly; undelivered rows stay in the outbox."""
    if rt.relay is not None:
        await rt.relay.stop()
