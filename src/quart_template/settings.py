"""Typed settings from the environment and `.env`; Flask Template's variable names keep working."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from quart_template.email.messages import ALL_EVENTS, LEGACY_EVENTS
from quart_template.local_secrets import LOCAL_DIR, kept_secret, weakness
from quart_template.mfa.crypto import data_key, legacy_key

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/app.db"
AsgiServerName = Literal["hypercorn", "uvicorn"]  # what `serve` runs (`serve --server NAME`)
# Unset outside production: generated once and kept in var/<field name>.
LOCAL_SECRETS = {"secret_key": "SECRET_KEY", "security_password_salt": "SECURITY_PASSWORD_SALT"}
# Production must name these itself: their defaults suit a developer's machine only.
# A retention is a whole number of days, at most about a century (a date must stay a date).
MAX_RETENTION_DAYS = 36500
RETENTIONS = (
    "session_retention",
    "outbox_retention",
    "audit_retention",
    "security_event_retention",
)
OPTIONAL_RETENTIONS = frozenset({"audit_retention", "security_event_retention"})
EXPLICIT_IN_PRODUCTION = {
    "frontend_url": ("FRONTEND_URL", "the links in emails are built on it"),
    "email_backend": ("EMAIL_BACKEND", "the console backend would write reset links to the logs"),
}


class ConfigError(Exception):
    """Bad configuration: names the variable so start-up can say one clear line."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting (README's configuration tables); field names are the environment names,
    lower-cased."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    _generated_secrets: list[str] = PrivateAttr(default_factory=list)

    # --- application -----------------------------------------------------------------
    app_env: Literal["development", "production", "test"] = Field(
        "development", validation_alias=_alias("APP_ENV", "FLASK_ENV")
    )
    secret_key: str = ""  # unset: generated in var/ outside production (`load_settings`)
    security_password_salt: str = ""
    data_encryption_key: str | None = None
    access_token_expire: int = Field(3600, gt=0)
    verify_token_expire: int = Field(3600, gt=0)
    reset_token_expire: int = Field(3600, gt=0)
    mfa_token_expire: int = Field(300, gt=0)
    reauth_max_age: int = Field(600, gt=0)
    port: int = Field(5000, gt=0, lt=65536)
    # Where `serve` listens: unset = 127.0.0.1 in development (nothing else on the network can
    # reach a dev server), 0.0.0.0 in production (a container's port is published from it).
    host_: str | None = Field(None, validation_alias=_alias("HOST"))
    # The ASGI server `serve` runs unless `--server` says otherwise (uvicorn: the uvicorn extra).
    asgi_server: AsgiServerName = "hypercorn"
    # Seconds in-flight requests may take to finish after SIGTERM.
    graceful_timeout: float = Field(20.0, ge=0)
    # Seconds to keep serving after SIGTERM, with /readyz already 503, before the listener
    # closes: a load balancer that checks readiness stops sending first (0 = close at once).
    shutdown_delay: float = Field(0.0, ge=0, le=300)
    max_body_bytes: int = Field(64 * 1024, gt=0)
    log_level: str = "INFO"
    log_json: bool | None = None
    frontend_url: str = Field(
        "http://localhost:8080", validation_alias=_alias("FRONTEND_URL", "VUE_APP_URI")
    )
    cors_origins: str | None = None
    trusted_proxies: str = ""
    # --- HTTP hardening ------------------------------------------------------------------
    hsts_seconds: int = Field(0, ge=0)  # 0 = no Strict-Transport-Security header
    docs_enabled: bool = True  # /docs and /openapi.json
    metrics_token: str | None = None  # when set, /metrics needs it as a Bearer token

    # --- database ----------------------------------------------------------------------
    database_url_: str | None = Field(None, validation_alias=_alias("DATABASE_URL"))
    # A read replica for token checks and lists (see replica.py); unset = the primary.
    database_read_url: str | None = None
    mysql_host: str | None = None
    mysql_user: str = "root"
    mysql_password: str = ""
    mysql_port: int = 3306
    mysql_database: str = "quart_template"
    mysql_test_host: str | None = None
    mysql_test_port: int | None = None
    mysql_test_database: str | None = None

    # --- broker, cache -----------------------------------------------------------------
    amqp_url_: str | None = Field(None, validation_alias=_alias("AMQP_URL"))
    rabbitmq_user: str = "guest"
    rabbitmq_password: str = "guest"
    rabbitmq_vhost: str = "/"
    broker_path: str | None = None
    mq_exchange: str = "quart_template"
    redis_url: str | None = None
    relay_in_app: bool = True
    # Events/s per destination an in-app relay keeps to while the API serves (0: no cap).
    relay_busy_rate: float = Field(1200, ge=0)
    # How long a checked token is believed without asking the database again (0: always ask).
    session_cache_seconds: float = Field(2.0, ge=0)

    # --- housekeeping (retentions in whole days; unset optional ones = keep forever) ------
    session_retention: int = Field(30, ge=1, le=MAX_RETENTION_DAYS)
    outbox_retention: int = Field(7, ge=1, le=MAX_RETENTION_DAYS)
    audit_retention: int | None = Field(None, ge=1, le=MAX_RETENTION_DAYS)
    security_event_retention: int | None = Field(365, ge=1, le=MAX_RETENTION_DAYS)
    housekeeping_interval: float = Field(3600, ge=0)  # seconds; 0 = never in-app

    # --- passwords, limits -------------------------------------------------------------
    argon2_time_cost: int = Field(2, ge=2)
    argon2_memory_cost: int = Field(19456, ge=19456)
    argon2_parallelism: int = Field(1, ge=1)
    login_limit_per_account: str = "5/15minutes"
    login_limit_per_account_all_ips: str = "100/hour"
    login_limit_per_ip: str = "50/15minutes"
    email_limit_per_address: str = "5/hour"
    email_limit_per_ip: str = "200/hour"
    signup_limit_per_ip: str = "20/hour"

    # --- email -------------------------------------------------------------------------
    email_backend: Literal["console", "smtp", "rabbitmq"] = "console"
    mail_server: str = "localhost"
    mail_port: int = 25
    mail_username: str | None = None
    mail_password: str | None = None
    mail_use_tls: bool = False
    mail_use_ssl: bool = False
    mail_default_sender: str = "Quart Template <no-reply@localhost>"
    mail_timeout: float = 10.0
    # EMAIL_BACKEND=rabbitmq: the queue the email-transmitter consumes, its type, and which
    # events are published to it ("all", or a comma-separated list of event names).
    email_queue: str = Field("email-transmitter", min_length=1, max_length=255)
    email_queue_type: Literal["classic", "quorum"] = "classic"
    email_transmitter_events: str = "all"

    # --- MFA ---------------------------------------------------------------------------
    mfa_issuer: str = "Quart Template"
    recovery_codes_count: int = Field(10, ge=1, le=100)
    recovery_codes_viewable: bool = True

    # --- passkeys (WebAuthn) -----------------------------------------------------------
    # Unset: the host of FRONTEND_URL, MFA_ISSUER, and FRONTEND_URL's origin.
    webauthn_rp_id_: str | None = Field(None, validation_alias=_alias("WEBAUTHN_RP_ID"))
    webauthn_rp_name_: str | None = Field(None, validation_alias=_alias("WEBAUTHN_RP_NAME"))
    webauthn_origins_: str | None = Field(None, validation_alias=_alias("WEBAUTHN_ORIGINS"))
    passkey_options_limit_per_ip: str = "100/15minutes"

    # --- social providers --------------------------------------------------------------
    provider_timeout: float = Field(10.0, gt=0)
    github_client_id: str | None = None
    github_oauth_client_secret: str | None = None
    github_oauth_url: str = "https://github.com/login/oauth"
    github_api_url: str = "https://api.github.com"
    google_client_id: str | None = None
    google_certs_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    # Google's code flow (GET /social/google/authorize) needs the web client's secret too.
    google_client_secret: str | None = None
    google_authorize_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    linkedin_client_id: str | None = None
    linkedin_oauth_client_secret: str | None = None
    linkedin_redirect_uri_: str | None = Field(
        None,
        validation_alias=_alias("LINKEDIN_REDIRECT_URI", "VUE_APP_SOCIAL_AUTH_REDIRECT_URI"),
    )
    linkedin_oauth_url: str = "https://www.linkedin.com/oauth/v2"
    linkedin_api_url: str = "https://api.linkedin.com/v2"
    facebook_client_id: str | None = None
    facebook_client_secret: str | None = None
    facebook_graph_url: str = "https://graph.facebook.com"
    facebook_dialog_url: str = "https://www.facebook.com/dialog/oauth"
    facebook_email_verified: bool = False
    expose_provider_tokens: bool = False
    # The server-driven flow (GET /social/<provider>/authorize): the redirect URIs a flow may
    # name (comma-separated; `{provider}` stands for the provider's name; unset or empty = the
    # default below), whether a code must come with its flow's state, and how many flows one
    # client IP may start.
    social_redirect_uris: str | None = None
    social_require_state: bool = False
    social_authorize_limit_per_ip: str = "200/15minutes"

    # --- realtime, errors --------------------------------------------------------------
    pusher_app_id: str | None = None
    pusher_api_key: str | None = None
    pusher_api_secret: str | None = None
    pusher_cluster: str = "mt1"
    pusher_host: str | None = None
    pusher_port: int = 443
    pusher_ssl: bool = True
    pusher_public_channels: bool = False
    rollbar_access_token: str | None = None

    @field_validator("email_queue_type", "asgi_server", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(*RETENTIONS, mode="before")
    @classmethod
    def _whole_days(cls, value: object, info: ValidationInfo) -> object:
        """A retention is a whole number of days; an optional one left empty keeps forever."""
        if isinstance(value, str):
            value = int(value.strip()) if value.strip().isdigit() else value.strip() or None
        if value is None and info.field_name in OPTIONAL_RETENTIONS:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= MAX_RETENTION_DAYS
        ):
            raise ValueError(f"a whole number of days, 1 to {MAX_RETENTION_DAYS} (e.g. 30)")
        return value

    # --- derived -----------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        """DATABASE_URL; else MySQL from MYSQL_* when MYSQL_HOST is set; else SQLite."""
        if self.database_url_:
            return self.database_url_
        if self.mysql_host:
            return (
                f"mysql+aiomysql://{quote(self.mysql_user, safe='')}:"
                f"{quote(self.mysql_password, safe='')}@{self.mysql_host}:{self.mysql_port}/"
                f"{self.mysql_database}?charset=utf8mb4"
            )
        return DEFAULT_SQLITE_URL

    @property
    def host(self) -> str:
        """The address `serve` binds by default."""
        if self.host_:
            return self.host_
        return "0.0.0.0" if self.app_env == "production" else "127.0.0.1"  # noqa: S104

    @property
    def database_variable(self) -> str:
        """The variable the operator set for the database, for error lines."""
        return "MYSQL_HOST" if self.mysql_host and not self.database_url_ else "DATABASE_URL"

    @property
    def amqp_url(self) -> str | None:
        """The broker URL, built from Flask Template's BROKER_PATH when AMQP_URL is unset."""
        if self.amqp_url_:
            return self.amqp_url_
        if self.broker_path:
            vhost = quote(self.rabbitmq_vhost, safe="")
            return (
                f"amqp://{quote(self.rabbitmq_user, safe='')}:"
                f"{quote(self.rabbitmq_password, safe='')}@{self.broker_path}/{vhost}"
            )
        return None

    @property
    def linkedin_redirect_uri(self) -> str:
        return self.linkedin_redirect_uri_ or self.frontend_url

    def social_redirect_uris_for(self, provider: str) -> frozenset[str]:
        """The redirect URIs a server-driven flow of `provider` may name (compared exactly):
        SOCIAL_REDIRECT_URIS, else LINKEDIN_REDIRECT_URI and
        FRONTEND_URL/session/social/<provider>."""
        return frozenset(entry.replace("{provider}", provider) for entry in self._redirect_entries)

    @property
    def _redirect_entries(self) -> list[str]:
        entries = [e.strip() for e in (self.social_redirect_uris or "").split(",") if e.strip()]
        if entries:
            return entries
        return [
            self.linkedin_redirect_uri,
            f"{self.frontend_url.rstrip('/')}/session/social/{{provider}}",
        ]

    @property
    def allowed_origins(self) -> list[str]:
        raw = self.cors_origins if self.cors_origins is not None else self.frontend_url
        return [origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()]

    @property
    def webauthn_rp_id(self) -> str:
        """The relying party's id passkeys are bound to: WEBAUTHN_RP_ID or FRONTEND_URL's host."""
        return self.webauthn_rp_id_ or (urlsplit(self.frontend_url).hostname or "")

    @property
    def webauthn_rp_name(self) -> str:
        return self.webauthn_rp_name_ or self.mfa_issuer

    @property
    def webauthn_origins(self) -> list[str]:
        """The origins a passkey ceremony may come from (WEBAUTHN_ORIGINS, comma-separated)."""
        if self.webauthn_origins_:
            raw = [o.strip().rstrip("/") for o in self.webauthn_origins_.split(",")]
            return [origin for origin in raw if origin]
        parts = urlsplit(self.frontend_url)
        return [f"{parts.scheme}://{parts.netloc}"]

    @property
    def transmitter_events(self) -> frozenset[str]:
        """The events EMAIL_TRANSMITTER_EVENTS names (unset, empty or "all": every one)."""
        names = {n.strip().upper() for n in self.email_transmitter_events.split(",") if n.strip()}
        return frozenset(ALL_EVENTS) if not names or "ALL" in names else frozenset(names)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def pusher_enabled(self) -> bool:
        return bool(self.pusher_app_id and self.pusher_api_key and self.pusher_api_secret)

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.app_env == "production"

    @property
    def generated_secrets(self) -> tuple[str, ...]:
        """The secrets (variable names) that were unset and come from var/."""
        return tuple(self._generated_secrets)

    @cached_property
    def encryption_key(self) -> bytes:
        """The 32-byte data key: HKDF-SHA256 of DATA_ENCRYPTION_KEY, or of SECRET_KEY when that
        is unset; values sealed with the earlier SHA-256 derivation still open with it."""
        earlier = legacy_key(self.data_encryption_key or f"data-encryption:{self.secret_key}")
        return data_key(self.data_encryption_key or self.secret_key, retired=[earlier])

    def use_local_secrets(self, directory: Path = LOCAL_DIR) -> None:
        """Outside production, fill an unset SECRET_KEY / SECURITY_PASSWORD_SALT with the value
        kept in `directory` (generated the first time), never with a public default."""
        if self.app_env == "production":
            return
        for field, variable in LOCAL_SECRETS.items():
            if getattr(self, field):
                continue
            try:
                setattr(self, field, kept_secret(field, directory))
            except (OSError, ValueError):
                raise ConfigError(
                    variable, f"unset, and {directory}/{field} cannot be kept; set {variable}"
                ) from None
            self._generated_secrets.append(variable)

    def check(self) -> None:
        """Refuse configurations that must never run; raises ConfigError naming the variable."""
        if self.app_env == "production":
            self._check_production()
        if not self.secret_key:
            raise ConfigError("SECRET_KEY", "must not be empty")
        if not self.security_password_salt:
            raise ConfigError("SECURITY_PASSWORD_SALT", "must not be empty")
        if self.mail_use_tls and self.mail_use_ssl:
            raise ConfigError("MAIL_USE_TLS", "MAIL_USE_TLS and MAIL_USE_SSL exclude each other")
        if self.email_backend == "rabbitmq" and not self.amqp_url:
            raise ConfigError("EMAIL_BACKEND", "rabbitmq needs AMQP_URL (or BROKER_PATH)")
        self._check_email_queue()
        self._check_limits_and_proxies()
        self._check_webauthn()
        self._check_redirect_uris()
        self._check_redis_and_brokers()

    def _check_redirect_uris(self) -> None:
        """A redirect URI is where a provider sends a person with a code: an absolute http(s)
        URL without a fragment (RFC 6749, 3.1.2), or no provider would accept it."""
        from urllib.parse import urlsplit

        if not (self.social_redirect_uris or "").strip():
            return
        for number, entry in enumerate(self._redirect_entries, start=1):
            parts = urlsplit(entry)
            if parts.scheme not in ("http", "https") or not parts.netloc or "#" in entry:
                raise ConfigError(
                    "SOCIAL_REDIRECT_URIS",
                    f"entry {number} is no absolute http(s) URL without a fragment",
                )

    def _check_email_queue(self) -> None:
        """A name the email-transmitter would never see, or a queue the broker refuses, is a
        mistake to say at start-up, not a silent loss later."""
        if self.email_queue.startswith("amq."):
            raise ConfigError("EMAIL_QUEUE", "names starting with 'amq.' are the broker's own")
        for name in sorted(self.transmitter_events - set(ALL_EVENTS)):
            if name in LEGACY_EVENTS:
                hint = f"{name} is sent as {LEGACY_EVENTS[name]}: list that instead"
            else:
                hint = f"unknown event {name!r}; known: all, {', '.join(ALL_EVENTS)}"
            raise ConfigError("EMAIL_TRANSMITTER_EVENTS", hint)

    def _check_redis_and_brokers(self) -> None:
        """A Redis or broker URL the clients would misread is said at start-up (the problem
        never repeats a password), not met as a silent fallback later."""
        from quart_template.brokers import broker_urls
        from quart_template.redis_topology import RedisTopology

        if self.redis_url:
            try:
                RedisTopology.parse(self.redis_url)
            except ValueError as exc:
                raise ConfigError("REDIS_URL", str(exc)) from None
        if self.amqp_url:
            try:
                broker_urls(self.amqp_url)
            except ValueError as exc:
                raise ConfigError(
                    "AMQP_URL" if self.amqp_url_ else "BROKER_PATH", str(exc)
                ) from None

    def _check_production(self) -> None:
        """Production runs on its own strong secrets and names what defaults only suit a
        developer's machine."""
        secrets = {
            "SECRET_KEY": self.secret_key,
            "SECURITY_PASSWORD_SALT": self.security_password_salt,
        }
        if self.data_encryption_key is not None:
            secrets["DATA_ENCRYPTION_KEY"] = self.data_encryption_key
        for variable, value in secrets.items():
            problem = weakness(value)
            if problem:
                raise ConfigError(variable, problem)
        for field, (variable, reason) in EXPLICIT_IN_PRODUCTION.items():
            if field not in self.model_fields_set:
                raise ConfigError(variable, f"set it explicitly in production ({reason})")

    def _check_limits_and_proxies(self) -> None:
        import ipaddress

        from limits import parse

        limits = (
            "login_limit_per_account",
            "login_limit_per_account_all_ips",
            "login_limit_per_ip",
            "email_limit_per_address",
            "email_limit_per_ip",
            "signup_limit_per_ip",
            "passkey_options_limit_per_ip",
            "social_authorize_limit_per_ip",
        )
        for variable in limits:
            try:
                parse(getattr(self, variable))
            except ValueError:
                raise ConfigError(variable.upper(), "use the form '5/15minutes'") from None
        try:
            for proxy in self.trusted_proxy_list:
                ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError("TRUSTED_PROXIES", "comma-separated IP addresses or CIDRs") from None

    def _check_webauthn(self) -> None:
        """A browser refuses a passkey ceremony whose origin is not on the RP ID's domain:
        a mismatch would only show as every passkey failing, so it is said at start-up."""
        rp_id = self.webauthn_rp_id
        if not rp_id or "/" in rp_id or ":" in rp_id:
            raise ConfigError("WEBAUTHN_RP_ID", "a host name such as example.com (no scheme, port)")
        if not self.webauthn_origins:
            raise ConfigError("WEBAUTHN_ORIGINS", "name at least one origin")
        for origin in self.webauthn_origins:
            parts = urlsplit(origin)
            host = parts.hostname or ""
            if parts.scheme not in ("https", "http") or not host:
                raise ConfigError("WEBAUTHN_ORIGINS", f"{origin!r} is no origin (https://host)")
            if host != rp_id and not host.endswith(f".{rp_id}"):
                raise ConfigError(
                    "WEBAUTHN_ORIGINS", f"{origin!r} is not on the domain of RP ID {rp_id!r}"
                )


def load_settings() -> Settings:
    """Read and check the settings, turning pydantic's report into one ConfigError; unset
    secrets outside production come from var/."""
    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = _variable_name(str(error["loc"][0])) if error["loc"] else "settings"
        raise ConfigError(variable, error["msg"].removeprefix("Value error, ")) from None
    settings.use_local_secrets()
    settings.check()
    return settings


def _variable_name(location: str) -> str:
    """The name the operator wrote: of an aliased field (FLASK_ENV/APP_ENV), the one that is set."""
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        if location != name and location not in names:
            continue
        if not names:
            return name.upper()
        given = {key.upper() for key in os.environ} | {key.upper() for key in _dotenv_keys()}
        return next((n for n in names if n.upper() in given), names[0])
    return location.upper()


def _dotenv_keys() -> list[str]:
    from dotenv import dotenv_values

    return list(dotenv_values(".env")) if os.path.exists(".env") else []
