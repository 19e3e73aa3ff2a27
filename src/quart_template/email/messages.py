"""The email events the service sends (names as the EcorRouge email-transmitter expects)."""

from __future__ import annotations

USER_CREATED = "USER_CREATED"  # verification link, data: {"link", "first_name"}
RESEND_CONFIRMATION = "RESEND_CONFIRMATION"  # data: {"link", "first_name"}
RESET_PASSWORD = "RESET_PASSWORD"  # data: {"link", "first_name"}
ACCOUNT_EXISTS = "ACCOUNT_EXISTS"  # someone signed up with an existing email; data: {"link"}
PASSWORD_CHANGED = "PASSWORD_CHANGED"  # data: {"first_name"}
MFA_ENABLED = "MFA_ENABLED"
MFA_DISABLED = "MFA_DISABLED"
RECOVERY_CODES_REGENERATED = "RECOVERY_CODES_REGENERATED"
SOCIAL_LINKED = "SOCIAL_LINKED"  # data: {"provider"}

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
)
