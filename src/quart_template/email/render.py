"""Renders an email event into a subject and text + HTML bodies from the shipped templates."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from quart_template.email.messages import MESSAGES, PRODUCT
from quart_template.email.payload import provider_name, wire_form
from quart_template.events.destinations import PermanentDeliveryError

__all__ = ["RenderedEmail", "UnknownEmailEvent", "provider_name", "render_email"]


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class UnknownEmailEvent(PermanentDeliveryError, ValueError):
    """An outbox row names an event this service has no template for: retrying cannot help."""


@cache
def environment() -> Environment:
    """HTML templates autoescape (a first name is user input); text templates do not."""
    env = Environment(
        loader=PackageLoader("quart_template.email", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )
    env.filters["provider_name"] = provider_name
    return env


def render_email(event: str, data: dict[str, Any]) -> RenderedEmail:
    """Subject, text and HTML for one event and its data (the documented keys, which the
    templates use by name, as the email-transmitter's do)."""
    event, data = wire_form(event, data)
    message = MESSAGES.get(event)
    if message is None:
        raise UnknownEmailEvent(f"no email template for event {event!r}")
    env = environment()
    context = {"product": PRODUCT, **data}
    subject = " ".join(env.from_string(message.subject).render(context).split())
    context["subject"] = subject
    text = env.get_template(f"{message.template}.txt").render(context)
    html = env.get_template(f"{message.template}.html").render(context)
    return RenderedEmail(subject=subject, text=text, html=html)
