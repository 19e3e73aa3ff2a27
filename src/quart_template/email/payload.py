"""The `data` of each email event as the EcorRouge email-transmitter's templates read it
(`messages.DATA_KEYS`): built here by the services, and brought to exactly those keys before
any backend sees a row, rows recorded by earlier builds (`{"link", "first_name"}`) included."""

from __future__ import annotations

from typing import Any

from quart_template.email.messages import DATA_KEYS, LEGACY_EVENTS, LINK_KEYS, PROVIDER_NAMES


def provider_name(provider: object) -> str:
    """How a provider is written for people ("github" -> "GitHub")."""
    if not provider:
        return "social"
    return PROVIDER_NAMES.get(str(provider).lower(), str(provider).title())


def notice_data(first_name: str | None, **extra: str) -> dict[str, str]:
    """`recipient_name` (the first name, as Flask Template sent it) plus the event's own keys."""
    return {"recipient_name": first_name or "", **extra}


def provider_data(first_name: str | None, provider: str) -> dict[str, str]:
    """A social notice: the provider's id and the name a template shows."""
    return notice_data(first_name, provider=provider, provider_name=provider_name(provider))


def wire_form(event: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event name and exactly its documented keys; an event this service does not know
    is passed on untouched (a backend then refuses or skips it)."""
    event = LEGACY_EVENTS.get(event, event)
    keys = DATA_KEYS.get(event)
    if keys is None:
        return event, dict(data)
    known = {
        "recipient_name": data.get("recipient_name", data.get("first_name")) or "",
        "provider": data.get("provider"),
        "provider_name": data.get("provider_name") or provider_name(data.get("provider")),
        "passkey_name": data.get("passkey_name"),
    }
    link_key = LINK_KEYS.get(event)
    if link_key is not None:
        known[link_key] = data.get(link_key, data.get("link"))
    return event, {key: known[key] for key in keys if known.get(key) is not None}
