"""Schemathesis against the real app (Hypercorn on a loopback port, a real database): every
operation of /openapi.json, valid and invalid data, every check. Each example is signed in with a
fresh session (so `/logout` or `DELETE /sessions/...` cannot spoil the next one), and the rate
limits are raised so the fuzzer meets the rules, not the limiter."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp
import pytest
import schemathesis
from hypercorn.asyncio import serve
from hypercorn.config import Config
from hypothesis import HealthCheck, settings
from quart import Quart
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.core.failures import FailureGroup

from quart_template.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from quart_template.app import create_app
from quart_template.db import make_engine
from quart_template.models import Base
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.sessions.service import issue_session
from quart_template.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.fakes.pusher_api import FakePusherAPI
from tests.support.backends import TEST_DATABASE_URL, empty_tables, settings_for
from tests.support.events import pusher_settings
from tests.support.factories import DEFAULT_PASSWORD, create_person
from tests.support.network import free_port

# Who the examples sign in as, in turn: a person without MFA and one with it (so MFA routes
# meet both states).
PEOPLE = ("fuzz", "fuzz-mfa")
EXAMPLES = 20  # per operation and phase: the run takes about half a minute on an idle machine
LIMIT = "100000/minute"
# Known false positives of the `positive_data_acceptance` check: a 400 to a body the schema
# calls valid, because what decides is state or a rule JSON Schema cannot say. Each message
# prefix with its reason; any other 400 to valid data fails the test.
STATE_REFUSALS = {
    # The password policy: common passwords, the email as password, lengths after NFKC.
    "This password is too common.": "a common password is refused (list of 10,000+)",
    "Password must not be your email address.": "the policy compares with the email",
    "Password must be at least": "the policy counts characters after NFKC normalisation",
    "Password must be at most": "the policy counts characters after NFKC normalisation",
    # Links are signed by the app: a made-up token is well-formed but not ours (the seed's 400).
    "The confirmation link is invalid": "a made-up verification link",
    "The reset link is invalid": "a made-up reset link",
    # The MFA steps come in order; the fuzzer's person has not started enrolment.
    "Request a QR code (/qrcode) first.": "/verify_otp before /qrcode",
    "Verify an OTP code (/verify_otp) first.": "/setup_mfa before /verify_otp",
    "MFA is not set up": "recovery codes of a person without MFA",
    # Contract section 8: another person's (or a made-up) login method is a 400.
    "This user doesn't have login method": "a made-up login method id",
    # Passkeys: a signature the schema cannot check, ids and challenges of the app's own.
    "The passkey could not be verified.": "a made-up WebAuthn credential",
    "The passkey challenge is unknown": "a credential answering no challenge of ours",
    "This user doesn't have passkey": "a made-up passkey id",
    "You have no passkey": "the fuzzer's person has no passkey to be the second factor",
    # Only the redirect URIs of SOCIAL_REDIRECT_URIS are taken (no open redirect).
    "This redirect_uri is not allowed": "a made-up redirect URI",
}


@dataclass
class Served:
    url: str
    loop: asyncio.AbstractEventLoop
    app: Quart
    people: list[Any] = field(default_factory=list)

    def run(self, coroutine: Any) -> Any:
        """Run `coroutine` on the server's loop (where its database engine lives)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def fresh_token(self, person: Any) -> str:
        rt: Runtime = self.app.extensions["runtime"]

        async def issue() -> str:
            async with rt.db() as db, db.begin():
                issued = await issue_session(
                    db,
                    settings=rt.settings,
                    person=person,
                    client=ClientInfo("127.0.0.1", "fuzz"),
                )
            return issued.access_token

        token: str = self.run(issue())
        return token


def _settings(database_url: str, **overrides: Any) -> Settings:
    return settings_for(
        database_url,
        **overrides,
        docs_enabled=True,
        log_level="WARNING",
        login_limit_per_account=LIMIT,
        login_limit_per_account_all_ips=LIMIT,
        login_limit_per_ip=LIMIT,
        signup_limit_per_ip=LIMIT,
        email_limit_per_address=LIMIT,
        email_limit_per_ip=LIMIT,
    )


def _document() -> dict[str, Any]:
    """The app's /openapi.json, built without serving (the test checks the served one is it)."""
    app = create_app(_settings("sqlite+aiosqlite:///:memory:"))
    document: dict[str, Any] = app.extensions["QUART_SCHEMA"].openapi_provider.schema()
    return json.loads(json.dumps(document))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, _mysql_schema: None) -> Iterator[Served]:
    """The app under Hypercorn in a thread of its own, with its lifespan (start-up) run, on a
    fresh database; one for all operations."""
    if TEST_DATABASE_URL:
        asyncio.run(empty_tables(TEST_DATABASE_URL))
        database_url = TEST_DATABASE_URL
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
        asyncio.run(_create_schema(database_url))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    here = Served(url="", loop=loop, app=None)  # type: ignore[arg-type]
    # The fake providers answer the social sign-ins (a made-up code is refused: 401).
    providers = FakeProviders()
    providers.google_key("k1")
    here.run(providers.start())
    pusher = FakePusherAPI()  # so /pusher/auth signs (or refuses) instead of a 404
    here.run(pusher.start())
    overrides = {**providers.settings_overrides(), **pusher_settings(pusher)}
    here.app = create_app(_settings(database_url, **overrides))
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    started = threading.Event()
    here.app.before_serving(_set(started))
    serving = asyncio.run_coroutine_threadsafe(
        serve(here.app, config, shutdown_trigger=stop.wait),  # type: ignore[arg-type]
        loop,
    )
    assert started.wait(30), "the app did not start"
    here.url = f"http://127.0.0.1:{port}"
    rt = here.app.extensions["runtime"]
    here.people = [here.run(create_person(rt, email=f"{name}@example.com")) for name in PEOPLE]
    _enrol(here, here.people[1])
    try:
        yield here
    finally:
        loop.call_soon_threadsafe(stop.set)
        serving.result(30)
        here.run(providers.stop())
        here.run(pusher.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def _enrol(here: Served, person: Any) -> None:
    """Turn MFA on over HTTP: the code that confirmed set-up may turn it on (same step)."""
    headers = {"Authorization": f"Bearer {here.fresh_token(person)}"}
    body = {"password": DEFAULT_PASSWORD, "login_type": "signup"}
    secret = httpx.post(f"{here.url}/qrcode", json=body, headers=headers).json()["secret"]
    code = pyotp.TOTP(secret).now()
    for path, body in (
        ("/verify_otp", {"otp": code}),
        ("/setup_mfa", {"mfa_enabled": True, "otp": code}),
    ):
        response = httpx.post(f"{here.url}{path}", json=body, headers=headers)
        assert response.status_code == 200, response.text


async def _create_schema(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


def _set(event: threading.Event) -> Any:
    async def mark() -> None:
        event.set()

    return mark


CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES,
            # The auth below signs every example in; invalid tokens are the checks' business.
            "with-security-parameters": False,
        },
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "enabled": True,
            # Also a refusal: a body over MAX_BODY_BYTES is 413 before anything reads it.
            "negative_data_rejection": {
                "expected-statuses": [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
            },
        },
    }
)
ALTERNATE = itertools.count()
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


def test_the_served_document_is_the_one_fuzzed(served: Served) -> None:
    assert httpx.get(f"{served.url}/openapi.json").json() == schema.raw_schema


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_app_keeps_its_openapi_document(served: Served, case: Any) -> None:
    security = case.operation.definition.raw.get("security") or []
    # Optional auth (the social sign-ins): every other example signs in (linking), the rest
    # are anonymous (signing in).
    if security and ({} not in security or next(ALTERNATE) % 2):
        # Every example gets its own session (a signed-in person with a recent proof), so
        # `/logout` or `DELETE /sessions/...` cannot spoil the next one; marked explicit so
        # the `ignored_auth` check probes the operation without it and with a bad one.
        person = served.people[next(ALTERNATE) % len(served.people)]
        case.headers = {
            **(case.headers or {}),
            "Authorization": f"Bearer {served.fresh_token(person)}",
        }
        case._has_explicit_auth = True
    response = case.call(base_url=served.url)
    try:
        case.validate_response(response)
    except FailureGroup as group:
        real = [failure for failure in group.exceptions if not _known(failure, case, response)]
        if real:
            raise


def _known(failure: Exception, case: Any, response: Any) -> bool:
    """A failure that is the fuzzer's mistake, not the app's (each with its reason)."""
    name = type(failure).__name__
    body = case.body if isinstance(case.body, dict) else {}
    if name == "RejectedPositiveData" and response.status_code == 400:
        message = response.json().get("message", "")
        return any(message.startswith(refusal) for refusal in STATE_REFUSALS)
    if name == "AcceptedNegativeData":
        return _nfkc_length_fits(body)
    return False


def _nfkc_length_fits(body: dict[str, Any]) -> bool:
    """A password the schema calls too short or long whose NFKC form is within the policy."""
    for name in ("password", "new_password"):
        value = body.get(name)
        if isinstance(value, str):
            length = len(unicodedata.normalize("NFKC", value))
            if MIN_PASSWORD_LENGTH <= length <= MAX_PASSWORD_LENGTH:
                return True
    return False
