"""The email events the service sends (names as the EcorRouge email-transmitter expects), and
for each its subject and template pair (`templates/<name>.txt` and `.html`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRODUCT = "Quart Template"
PROVIDER_NAMES = {
    "github": "GitHub",
    "google": "Google",
    "linkedin": "LinkedIn",
    "facebook": "Facebook",
}

USER_CREATED = "USER_CREATED"  # verification link, data: {"link", "first_name"}
RESEND_CONFIRMATION = "RESEND_CONFIRMATION"  # data: {"link", "first_name"}
RESET_PASSWORD = "RESET_PASSWORD"  # data: {"link", "first_name"}
ACCOUNT_EXISTS = "ACCOUNT_EXISTS"  # someone signed up with an existing email; data: {"link"}
PASSWORD_CHANGED = "PASSWORD_CHANGED"  # data: {"first_name"}
MFA_ENABLED = "MFA_ENABLED"  # data: {"first_name"}
MFA_DISABLED = "MFA_DISABLED"  # data: {"first_name"}
RECOVERY_CODES_REGENERATED = "RECOVERY_CODES_REGENERATED"  # data: {"first_name"}
SOCIAL_LINKED = "SOCIAL_LINKED"  # data: {"provider", "first_name"}
SOCIAL_UNLINKED = "SOCIAL_UNLINKED"  # data: {"provider", "first_name"}
PASSWORD_REMOVED = "PASSWORD_REMOVED"  # password sign-in unlinked; data: {"first_name"}
# A provider verified the address of an unverified account, which it then took over (the
# password, sessions, MFA and other login methods were removed); data: {"provider", "first_name"}
ACCOUNT_TAKEN_OVER_BY_PROVIDER = "ACCOUNT_TAKEN_OVER_BY_PROVIDER"

ALL_EVENTS = (
    USER_CREATED,
    RESEND_CONFIRMATION,
    RESET_PASSWORD,
    ACCOUNT_EXISTS,
    PASSWORD_CHANGED,
    MFA_ENABLED,
    MFA_DISABLED,
    RECOVERY_CODES_REGENERATED,
    SOCIAL_LINKED,
    SOCIAL_UNLINKED,
    PASSWORD_REMOVED,
    ACCOUNT_TAKEN_OVER_BY_PROVIDER,
)


@dataclass(frozen=True)
class EmailTemplate:
    """A subject (itself a small Jinja template over the data) and a template pair's name."""

    subject: str
    template: str


MESSAGES: dict[str, EmailTemplate] = {
    USER_CREATED: EmailTemplate("Confirm your email address", "verification"),
    RESEND_CONFIRMATION: EmailTemplate("Confirm your email address", "verification"),
    RESET_PASSWORD: EmailTemplate("Reset your password", "reset_password"),
    ACCOUNT_EXISTS: EmailTemplate("You already have an account", "account_exists"),
    PASSWORD_CHANGED: EmailTemplate("Your password was changed", "password_changed"),
    MFA_ENABLED: EmailTemplate("Two-factor authentication is on", "mfa_enabled"),
    MFA_DISABLED: EmailTemplate("Two-factor authentication is off", "mfa_disabled"),
    RECOVERY_CODES_REGENERATED: EmailTemplate(
        "New recovery codes were generated", "recovery_codes_regenerated"
    ),
    SOCIAL_LINKED: EmailTemplate(
        "A {{ provider|provider_name }} account was linked", "social_linked"
    ),
    SOCIAL_UNLINKED: EmailTemplate(
        "A {{ provider|provider_name }} account was unlinked", "social_unlinked"
    ),
    PASSWORD_REMOVED: EmailTemplate("Password sign-in was removed", "password_removed"),
    ACCOUNT_TAKEN_OVER_BY_PROVIDER: EmailTemplate(
        "{{ provider|provider_name }} confirmed your address: your account was reset",
        "account_taken_over",
    ),
}


@dataclass(frozen=True)
class OutgoingEmail:
    """One email as the outbox recorded it: the event, its recipients and the template data."""

    event: str
    to: list[str]
    data: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
