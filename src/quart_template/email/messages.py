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

# Each event's `data` keys are in DATA_KEYS below: `recipient_name` (the person's first name,
# "" when unknown) plus one documented key per event, the names Flask Template's
# email-transmitter templates use.
USER_CREATED = "USER_CREATED"  # verification link; sign-up and /resend_confirmation alike
RESET_PASSWORD = "RESET_PASSWORD"
ACCOUNT_EXISTS = "ACCOUNT_EXISTS"  # someone signed up with an existing email
PASSWORD_CHANGED = "PASSWORD_CHANGED"
MFA_ENABLED = "MFA_ENABLED"
MFA_DISABLED = "MFA_DISABLED"
RECOVERY_CODES_REGENERATED = "RECOVERY_CODES_REGENERATED"
SOCIAL_LINKED = "SOCIAL_LINKED"
SOCIAL_UNLINKED = "SOCIAL_UNLINKED"
PASSWORD_REMOVED = "PASSWORD_REMOVED"  # password sign-in unlinked
PASSKEY_ADDED = "PASSKEY_ADDED"
PASSKEY_REMOVED = "PASSKEY_REMOVED"
# A provider verified the address of an unverified account, which it then took over (the
# password, sessions, MFA and other login methods were removed).
ACCOUNT_TAKEN_OVER_BY_PROVIDER = "ACCOUNT_TAKEN_OVER_BY_PROVIDER"
# Earlier builds recorded a resend under its own name: such rows still waiting go out as
# USER_CREATED (the email-transmitter knows no other name for it).
RESEND_CONFIRMATION = "RESEND_CONFIRMATION"
LEGACY_EVENTS = {RESEND_CONFIRMATION: USER_CREATED}

ALL_EVENTS = (
    USER_CREATED,
    RESET_PASSWORD,
    ACCOUNT_EXISTS,
    PASSWORD_CHANGED,
    MFA_ENABLED,
    MFA_DISABLED,
    RECOVERY_CODES_REGENERATED,
    SOCIAL_LINKED,
    SOCIAL_UNLINKED,
    PASSWORD_REMOVED,
    PASSKEY_ADDED,
    PASSKEY_REMOVED,
    ACCOUNT_TAKEN_OVER_BY_PROVIDER,
)

RECIPIENT = ("recipient_name",)
PROVIDER = ("provider", "provider_name")  # "github", and as people write it: "GitHub"
# event -> its `data` keys, exactly; the email-transmitter passes them to its templates as is.
DATA_KEYS: dict[str, tuple[str, ...]] = {
    USER_CREATED: (*RECIPIENT, "confirmation_link"),
    RESET_PASSWORD: (*RECIPIENT, "password_reset_url"),
    ACCOUNT_EXISTS: (*RECIPIENT, "login_link"),
    PASSWORD_CHANGED: RECIPIENT,
    MFA_ENABLED: RECIPIENT,
    MFA_DISABLED: RECIPIENT,
    RECOVERY_CODES_REGENERATED: RECIPIENT,
    SOCIAL_LINKED: (*RECIPIENT, *PROVIDER),
    SOCIAL_UNLINKED: (*RECIPIENT, *PROVIDER),
    PASSWORD_REMOVED: RECIPIENT,
    PASSKEY_ADDED: (*RECIPIENT, "passkey_name"),
    PASSKEY_REMOVED: (*RECIPIENT, "passkey_name"),
    ACCOUNT_TAKEN_OVER_BY_PROVIDER: (*RECIPIENT, *PROVIDER),
}
# event -> the key holding its link (a live token for the first two).
LINK_KEYS = {
    USER_CREATED: "confirmation_link",
    RESET_PASSWORD: "password_reset_url",
    ACCOUNT_EXISTS: "login_link",
}


@dataclass(frozen=True)
class EmailTemplate:
    """A subject (itself a small Jinja template over the data) and a template pair's name."""

    subject: str
    template: str


MESSAGES: dict[str, EmailTemplate] = {
    USER_CREATED: EmailTemplate("Confirm your email address", "verification"),
    RESET_PASSWORD: EmailTemplate("Reset your password", "reset_password"),
    ACCOUNT_EXISTS: EmailTemplate("You already have an account", "account_exists"),
    PASSWORD_CHANGED: EmailTemplate("Your password was changed", "password_changed"),
    MFA_ENABLED: EmailTemplate("Two-factor authentication is on", "mfa_enabled"),
    MFA_DISABLED: EmailTemplate("Two-factor authentication is off", "mfa_disabled"),
    RECOVERY_CODES_REGENERATED: EmailTemplate(
        "New recovery codes were generated", "recovery_codes_regenerated"
    ),
    SOCIAL_LINKED: EmailTemplate("A {{ provider_name }} account was linked", "social_linked"),
    SOCIAL_UNLINKED: EmailTemplate("A {{ provider_name }} account was unlinked", "social_unlinked"),
    PASSWORD_REMOVED: EmailTemplate("Password sign-in was removed", "password_removed"),
    PASSKEY_ADDED: EmailTemplate("A passkey was added to your account", "passkey_added"),
    PASSKEY_REMOVED: EmailTemplate("A passkey was removed from your account", "passkey_removed"),
    ACCOUNT_TAKEN_OVER_BY_PROVIDER: EmailTemplate(
        "{{ provider_name }} confirmed your address: your account was reset",
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
