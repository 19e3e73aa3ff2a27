"""The server-driven social sign-in (RFC 9700): `start` keeps a flow (provider, redirect URI,
PKCE verifier, Google's nonce) for FLOW_SECONDS and names it in a signed `state`; `finish`
spends it once, for the provider it was started for. A code that comes back with its state can
only be exchanged with that flow's verifier, so a code from another browser's sign-in (login
CSRF, code injection) is refused by the provider itself."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlencode

from itsdangerous import URLSafeTimedSerializer

from quart_template.db import utcnow
from quart_template.errors import BadRequest, NotFound, Unauthorized
from quart_template.mfa.crypto import decrypt_text, encrypt_text
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from quart_template.signing import random_id, read_signed
from quart_template.social import flow_repository as repo
from quart_template.social.models import SocialFlow
from quart_template.social.providers import facebook, github, google, linkedin
from quart_template.social.providers.base import CodeFlow, Flow

log = logging.getLogger(__name__)

FLOW_SALT = "social-flow"
FLOW_SECONDS = 600
CODE_FLOWS: dict[str, CodeFlow] = {
    "github": github.CODE_FLOW,
    "google": google.CODE_FLOW,
    "linkedin": linkedin.CODE_FLOW,
    "facebook": facebook.CODE_FLOW,
}

UNKNOWN_PROVIDER = "There is no social sign-in with this provider."
REDIRECT_REFUSED = "This redirect_uri is not allowed (SOCIAL_REDIRECT_URIS)."
STATE_REQUIRED = "This sign-in needs its state: start it at /social/{provider}/authorize."
STATE_INVALID = "The sign-in state is not valid or has expired; please start again."
STATE_USED = "This sign-in was already finished; please start again."
STATE_EXPIRED = "This sign-in has expired; please start again."
STATE_OTHER_PROVIDER = "This sign-in was started with {started}, not {title}; please start again."


@dataclass(frozen=True)
class Started:
    """Where to send the person, and the state the provider will send back."""

    url: str
    state: str


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=FLOW_SALT)


def _hash(flow_id: str) -> str:
    return hashlib.sha256(flow_id.encode()).hexdigest()


def _context(id_hash: str) -> str:
    return f"social_flow:{id_hash}"


def code_flow(provider: str) -> CodeFlow:
    """The provider's consent dialog, or 404 for a provider this service does not know."""
    found = CODE_FLOWS.get(provider)
    if found is None:
        raise NotFound(UNKNOWN_PROVIDER)
    return found


async def start(rt: Runtime, *, provider: str, redirect_uri: str, client: ClientInfo) -> Started:
    """Keep a new flow and build the provider's authorize URL for it: 501 for a provider not
    configured here, 400 for a redirect URI that is not ours (no open redirect)."""
    spec = code_flow(provider)
    client_id = spec.client_id(rt.settings)
    if redirect_uri not in rt.settings.social_redirect_uris_for(provider):
        raise BadRequest(REDIRECT_REFUSED)
    await rt.limiter.guard_flow_start(client.ip)
    flow_id = secrets.token_hex(32)
    id_hash = _hash(flow_id)
    verifier = secrets.token_urlsafe(48) if spec.pkce else None  # 64 characters (RFC 7636)
    nonce = secrets.token_urlsafe(24) if spec.nonce else None
    now = utcnow()
    key = rt.settings.encryption_key
    async with rt.db() as db, db.begin():
        repo.add_flow(
            db,
            SocialFlow(
                id_hash=id_hash,
                provider=provider,
                redirect_uri=redirect_uri,
                code_verifier_encrypted=(
                    encrypt_text(verifier, key=key, context=_context(id_hash)) if verifier else None
                ),
                nonce=nonce,
                created_at=now,
                expires_at=now + timedelta(seconds=FLOW_SECONDS),
            ),
        )
    state = _serializer(rt.settings).dumps(flow_id)
    query = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": spec.scope,
        "state": state,
    }
    if verifier is not None:
        query |= {"code_challenge": s256(verifier), "code_challenge_method": "S256"}
    if nonce is not None:
        query["nonce"] = nonce
    endpoint = spec.endpoint(rt.settings)
    joiner = "&" if "?" in endpoint else "?"
    return Started(url=f"{endpoint}{joiner}{urlencode(query, quote_via=quote)}", state=state)


def s256(verifier: str) -> str:
    """PKCE's S256 code challenge: unpadded base64url of the verifier's SHA-256."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def flow_for(
    rt: Runtime, *, provider: str, code: str | None, state: str | None
) -> Flow | None:
    """The flow a posted code finishes (spent now), or None for a body without a code (an ID
    token, an SDK access token) or a seed code taken without state; 401 when the state is
    missing where needed, or not a live flow of this provider."""
    if code is None:
        return None
    spec = code_flow(provider)
    spec.client_id(rt.settings)  # 501 before a state is spent on a provider not configured
    if state is not None:
        return await finish(rt, provider=provider, state=state)
    if rt.settings.social_require_state or not spec.seed_code:
        raise Unauthorized(STATE_REQUIRED.format(provider=provider))
    return None


async def finish(rt: Runtime, *, provider: str, state: str) -> Flow:
    """Spend the flow the state names: it must be genuine, of this provider, unused and
    younger than FLOW_SECONDS (else 401, saying which)."""
    flow_id = random_id(read_signed(_serializer(rt.settings), state, max_age=FLOW_SECONDS))
    if flow_id is None:
        raise _refused(STATE_INVALID, provider, "invalid")
    id_hash = _hash(flow_id)
    async with rt.db() as db, db.begin():
        row = await repo.spend_flow(db, id_hash=id_hash, provider=provider)
        if row is None:
            raise _why_not(await repo.get_flow(db, id_hash=id_hash), provider)
    verifier = None
    if row.code_verifier_encrypted is not None:
        verifier = decrypt_text(
            row.code_verifier_encrypted, key=rt.settings.encryption_key, context=_context(id_hash)
        )
    return Flow(redirect_uri=row.redirect_uri, code_verifier=verifier, nonce=row.nonce)


def _why_not(row: SocialFlow | None, provider: str) -> Unauthorized:
    """The clear 401 for a state that names no live flow of this provider."""
    if row is None:
        return _refused(STATE_INVALID, provider, "unknown")
    if row.provider != provider:
        message = STATE_OTHER_PROVIDER.format(
            started=code_flow(row.provider).title, title=code_flow(provider).title
        )
        return _refused(message, provider, "other_provider")
    if row.used_at is not None:
        return _refused(STATE_USED, provider, "used")
    return _refused(STATE_EXPIRED, provider, "expired")


def _refused(message: str, provider: str, reason: str) -> Unauthorized:
    log.info(
        "social sign-in state refused",
        extra={"event": "social_state_refused", "provider": provider, "reason": reason},
    )
    return Unauthorized(message)
