"""Imports every model so `Base.metadata` is complete (for Alembic and test set-up)."""

from quart_template.accounts.models import LoginMethod, Person
from quart_template.db import Base
from quart_template.events.outbox import OutboxMessage
from quart_template.housekeeping.models import HousekeepingLease
from quart_template.mfa.models import MfaChallenge, OtpMethod, RecoveryCode
from quart_template.passkeys.models import Passkey, PasskeyChallenge
from quart_template.security.models import SecurityEvent
from quart_template.sessions.models import AuthSession
from quart_template.social.models import SocialFlow

__all__ = [
    "AuthSession",
    "Base",
    "HousekeepingLease",
    "LoginMethod",
    "MfaChallenge",
    "OtpMethod",
    "OutboxMessage",
    "Passkey",
    "PasskeyChallenge",
    "Person",
    "RecoveryCode",
    "SecurityEvent",
    "SocialFlow",
]
