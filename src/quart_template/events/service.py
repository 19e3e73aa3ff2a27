"""Starts and stops event delivery with the app."""

from __future__ import annotations

from functools import partial

from quart_template.events.destinations import Destination, SenderDestination
from quart_template.events.metrics import outbox_metrics
from quart_template.events.outbox import EMAIL
from quart_template.events.relay import OutboxRelay
from quart_template.runtime import Runtime

IN_APP_POLL_SECONDS = 1.0
STANDALONE_POLL_SECONDS = 0.1


def build_destinations(rt: Runtime) -> list[Destination]:
    """One destination per configured target: email always, RabbitMQ and Pusher when set."""
    from quart_template.email.service import build_email_sender

    destinations: list[Destination] = [SenderDestination(EMAIL, build_email_sender(rt.settings))]
    if rt.settings.amqp_url:
        from quart_template.events.rabbitmq import RabbitPublisher

        publisher = RabbitPublisher(rt.settings.amqp_url, rt.settings.mq_exchange)
        rt.broker_status = publisher.status
        destinations.append(publisher)
    if rt.settings.pusher_enabled:
        from quart_template.events.pusher import PusherDestination

        pusher = PusherDestination(rt.settings, rt.http)
        rt.extras["pusher"] = pusher.client
        destinations.append(pusher)
    return destinations


async def start_events(rt: Runtime, *, force_relay: bool = False) -> None:
    """Create the relay and connect the broker in the background (never blocking start-up);
    the relay runs in-app unless RELAY_IN_APP=false (or always, for `quart-template relay`).
    In-app, commits wake the relay; a relay process only sees them by polling, so it polls
    often (an indexed query that finds nothing is cheap)."""
    destinations = build_destinations(rt)
    poll = STANDALONE_POLL_SECONDS if force_relay else IN_APP_POLL_SECONDS
    rt.relay = relay = OutboxRelay(rt.engine, destinations, poll_interval=poll)
    rt.db.kw["info"]["commit_signal"].listeners.append(relay.kick)
    rt.extras["outbox_metrics"] = partial(outbox_metrics, rt.db)
    for destination in destinations:
        destination.start(on_ready=relay.kick)
    if rt.settings.relay_in_app or force_relay:
        relay.start()


async def stop_events(rt: Runtime) -> None:
    """Stop the relay cleanly (undelivered rows stay in the outbox), then close connections."""
    relay = rt.relay
    if relay is None:
        return
    await relay.stop()
    for destination in relay.destinations.values():
        await destination.aclose()
