"""Settings: defaults, Flask Template's names, derived URLs, and refusals naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from quart_template.settings import (
    DEFAULT_SQLITE_URL,
    ConfigError,
    Settings,
    load_settings,
)


def _all_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names |= {str(c) for c in getattr(alias, "choices", [])} or {name.upper()}
    return names


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No inherited variable and no developer's `.env` can leak into these tests."""
    for name in _all_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_serve_a_local_development_app() -> None:
    settings = load_settings()
    assert settings.app_env == "development"
    assert settings.database_url == DEFAULT_SQLITE_URL
    assert settings.amqp_url is None
    assert settings.redis_url is None
    assert settings.frontend_url == "http://localhost:8080"
    assert settings.allowed_origins == ["http://localhost:8080"]
    assert settings.linkedin_redirect_uri == "http://localhost:8080"
    assert (settings.port, settings.max_body_bytes, settings.access_token_expire) == (
        5000,
        64 * 1024,
        3600,
    )
    assert settings.email_backend == "console"
    assert settings.mfa_issuer == "Quart Template"
    assert settings.recovery_codes_viewable is True
    assert settings.pusher_enabled is False
    assert settings.json_logs is False
    assert len(settings.encryption_key) == 32


def test_flask_env_is_an_alias_of_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_ENV", "test")
    assert Settings().app_env == "test"
    monkeypatch.setenv("APP_ENV", "development")
    assert Settings().app_env == "development"  # the new name wins when both are set


def test_vue_app_uri_is_an_alias_of_frontend_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VUE_APP_URI", "https://app.example.com")
    settings = Settings()
    assert settings.frontend_url == "https://app.example.com"
    assert settings.allowed_origins == ["https://app.example.com"]
    assert settings.linkedin_redirect_uri == "https://app.example.com"


def test_mysql_variables_build_a_utf8mb4_aiomysql_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MYSQL_HOST": "mysql",
        "MYSQL_USER": "flask@user",
        "MYSQL_PASSWORD": "p:ss/w@rd",
        "MYSQL_PORT": "3307",
        "MYSQL_DATABASE": "flask_mysql",
    }.items():
        monkeypatch.setenv(name, value)
    url = make_url(Settings().database_url)
    assert url.drivername == "mysql+aiomysql"
    assert (url.username, url.password, url.host, url.port) == (
        "flask@user",
        "p:ss/w@rd",
        "mysql",
        3307,
    )
    assert url.database == "flask_mysql"
    assert url.query == {"charset": "utf8mb4"}


def test_database_url_wins_over_mysql_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYSQL_HOST", "mysql")
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///./other.db")
    assert Settings().database_url == "sqlite+aiosqlite:///./other.db"


def test_broker_path_builds_the_amqp_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_USER", "rabbituser")
    monkeypatch.setenv("RABBITMQ_PASSWORD", "rabbit/pass")
    monkeypatch.setenv("RABBITMQ_VHOST", "rabbitmq_template_host")
    monkeypatch.setenv("BROKER_PATH", "rabbitmq:5672")
    assert Settings().amqp_url == (
        "amqp://rabbituser:rabbit%2Fpass@rabbitmq:5672/rabbitmq_template_host"
    )


def test_broker_path_with_the_default_vhost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_PATH", "127.0.0.1:5672")
    assert Settings().amqp_url == "amqp://guest:guest@127.0.0.1:5672/%2F"
    monkeypatch.setenv("AMQP_URL", "amqp://u:p@broker:5672/")
    assert Settings().amqp_url == "amqp://u:p@broker:5672/"


def test_dotenv_file_is_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text("FLASK_ENV=test\nMQ_EXCHANGE=from_dotenv\n")
    settings = Settings()
    assert (settings.app_env, settings.mq_exchange) == ("test", "from_dotenv")


def _refusal() -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return caught.value


STRONG_KEY = "kq3V9x-Lr2mZ8wT1yBn5cH7pD4sF6gJ0aE"
STRONG_SALT = "Zt8Qw2Ex4Rc6Vb1Yn3Um5Il7Ok9Pj0Hg"
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": STRONG_KEY,
    "SECURITY_PASSWORD_SALT": STRONG_SALT,
    "FRONTEND_URL": "https://app.example.com",
    "EMAIL_BACKEND": "smtp",
}
ROOT = Path(__file__).resolve().parents[2]
SECRET_VARIABLES = ("SECRET_KEY", "SECURITY_PASSWORD_SALT", "DATA_ENCRYPTION_KEY")


def production(monkeypatch: pytest.MonkeyPatch, **changes: str | None) -> None:
    """A complete production environment, with `changes` (None unsets a variable)."""
    for name, value in {**PRODUCTION, **changes}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def published_secrets() -> list[str]:
    """Every secret value `.env.dev` shows, set or in a commented example."""
    values = []
    for line in (ROOT / ".env.dev").read_text().splitlines():
        name, _, value = line.lstrip("# ").partition("=")
        if name in SECRET_VARIABLES and value.strip():
            values.append(value.strip())
    return values


def test_a_complete_production_configuration_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    settings = load_settings()
    assert (settings.secret_key, settings.json_logs, settings.generated_secrets) == (
        STRONG_KEY,
        True,
        (),
    )


@pytest.mark.parametrize("name", ["APP_ENV", "FLASK_ENV"])
def test_production_refuses_an_unset_secret_key_and_generates_none(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path, name: str
) -> None:
    production(monkeypatch, APP_ENV=None, SECRET_KEY=None)
    monkeypatch.setenv(name, "production")
    assert _refusal().variable == "SECRET_KEY"
    assert not (clean_env / "var").exists()


@pytest.mark.parametrize("variable", ["SECRET_KEY", "SECURITY_PASSWORD_SALT"])
@pytest.mark.parametrize(
    "value",
    [
        "",
        "x7" * 15 + "q",  # 31 characters
        "abcabcabcabcabcabcabcabcabcabcabcabc",  # long, but 3 different characters
        "dev-secret-key-change-me",  # the old built-in defaults
        "dev-password-salt-change-me",
    ],
)
def test_production_refuses_short_repetitive_and_default_secrets(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    production(monkeypatch, **{variable: value})
    error = _refusal()
    assert error.variable == variable
    assert not value or value not in str(error)  # a secret is never echoed


@pytest.mark.parametrize("variable", SECRET_VARIABLES)
def test_production_refuses_every_secret_value_env_dev_shows_or_showed(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    shown = published_secrets()
    assert shown, ".env.dev shows no example secret any more: this test checks nothing"
    # The values earlier .env.dev files set: long and varied enough, refused for being public.
    for value in [*shown, "dev-only-secret-key-not-for-production", "dev-only-password-salt"]:
        production(monkeypatch, **{variable: value})
        assert _refusal().variable == variable, value


def test_copying_env_dev_and_switching_to_production_refuses_to_start(clean_env: Path) -> None:
    env_dev = (ROOT / ".env.dev").read_text()
    (clean_env / ".env").write_text(env_dev.replace("APP_ENV=development", "APP_ENV=production"))
    assert _refusal().variable == "SECRET_KEY"
    assert not (clean_env / "var").exists()


def test_production_refuses_a_weak_data_encryption_key(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, DATA_ENCRYPTION_KEY="short")
    assert _refusal().variable == "DATA_ENCRYPTION_KEY"
    production(monkeypatch, DATA_ENCRYPTION_KEY="Mx4-Tq8-Wz2-Lp6-Hn0-Rc5-Ys3-Kv9-Bf")
    assert load_settings().data_encryption_key


@pytest.mark.parametrize("name", ["FRONTEND_URL", "EMAIL_BACKEND"])
def test_production_needs_an_explicit_frontend_url_and_email_backend(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    production(monkeypatch, **{name: None})
    assert _refusal().variable == name


def test_explicit_defaults_are_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, FRONTEND_URL=None, EMAIL_BACKEND="console")
    monkeypatch.setenv("VUE_APP_URI", "https://app.example.com")  # Flask Template's name counts
    settings = load_settings()
    assert (settings.frontend_url, settings.email_backend) == ("https://app.example.com", "console")


def test_unset_secrets_are_generated_once_kept_private_and_reused(clean_env: Path) -> None:
    first = load_settings()
    assert first.generated_secrets == ("SECRET_KEY", "SECURITY_PASSWORD_SALT")
    assert len(first.secret_key) >= 32 and first.secret_key != first.security_password_salt
    for name, value in [
        ("secret_key", first.secret_key),
        ("security_password_salt", first.security_password_salt),
    ]:
        kept = clean_env / "var" / name
        assert kept.read_text().strip() == value
        assert kept.stat().st_mode & 0o777 == 0o600
    second = load_settings()
    assert (second.secret_key, second.security_password_salt) == (
        first.secret_key,
        first.security_password_salt,
    )
    assert first.encryption_key == second.encryption_key


def test_a_set_secret_is_used_and_nothing_is_generated_for_it(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("SECRET_KEY", "a developer's own key")
    settings = load_settings()
    assert settings.secret_key == "a developer's own key"
    assert settings.generated_secrets == ("SECURITY_PASSWORD_SALT",)
    assert not (clean_env / "var" / "secret_key").exists()


def test_an_unwritable_var_directory_names_the_secret(clean_env: Path) -> None:
    (clean_env / "var").write_text("a file, not a directory")
    assert _refusal().variable == "SECRET_KEY"


def test_social_redirect_uris_default_to_the_linkedin_one_and_the_front_ends_route() -> None:
    settings = load_settings()
    assert settings.social_redirect_uris_for("github") == {
        "http://localhost:8080",
        "http://localhost:8080/session/social/github",
    }
    assert settings.social_require_state is False


def test_social_redirect_uris_name_the_allowed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SOCIAL_REDIRECT_URIS", " https://app.example/cb/{provider} ,https://x.example/"
    )
    assert load_settings().social_redirect_uris_for("google") == {
        "https://app.example/cb/google",
        "https://x.example/",
    }


@pytest.mark.parametrize(
    "value", ["/session/social/github", "ftp://app.example/cb", "https://app.example/cb#top"]
)
def test_a_redirect_uri_no_provider_would_take_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SOCIAL_REDIRECT_URIS", f"https://app.example/ok,{value}")
    error = _refusal()
    assert error.variable == "SOCIAL_REDIRECT_URIS" and "entry 2" in error.problem


def test_a_bad_limit_of_social_sign_in_starts_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIAL_AUTHORIZE_LIMIT_PER_IP", "lots")
    assert _refusal().variable == "SOCIAL_AUTHORIZE_LIMIT_PER_IP"


def test_unknown_email_backend_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_BACKEND", "carrier-pigeon")
    error = _refusal()
    assert error.variable == "EMAIL_BACKEND"
    assert "carrier-pigeon" not in str(error)  # values may be secrets: never echoed


@pytest.mark.parametrize("name", ["APP_ENV", "FLASK_ENV"])
def test_a_bad_aliased_value_names_the_variable_that_was_set(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "staging")
    assert _refusal().variable == name


def test_a_bad_value_in_dotenv_is_named(clean_env: Path) -> None:
    (clean_env / ".env").write_text("FLASK_ENV=staging\n")
    assert _refusal().variable == "FLASK_ENV"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "http"),
        ("ACCESS_TOKEN_EXPIRE", "0"),
        ("ARGON2_MEMORY_COST", "1024"),
        ("HOUSEKEEPING_INTERVAL", "-1"),
    ],
)
def test_bad_numbers_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    assert _refusal().variable == name


def test_session_cache_seconds_defaults_to_two_and_zero_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().session_cache_seconds == 2
    monkeypatch.setenv("SESSION_CACHE_SECONDS", "0.5")
    assert load_settings().session_cache_seconds == 0.5
    monkeypatch.setenv("SESSION_CACHE_SECONDS", "0")
    assert load_settings().session_cache_seconds == 0
    monkeypatch.setenv("SESSION_CACHE_SECONDS", "-1")
    assert _refusal().variable == "SESSION_CACHE_SECONDS"


def test_retentions_default_to_what_the_data_retention_table_says() -> None:
    settings = load_settings()
    assert (settings.session_retention, settings.outbox_retention) == (30, 7)
    assert (settings.audit_retention, settings.security_event_retention) == (None, 365)
    assert settings.housekeeping_interval == 3600


def test_retentions_are_whole_days_and_empty_keeps_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUDIT_RETENTION", "90")
    monkeypatch.setenv("SECURITY_EVENT_RETENTION", "")
    monkeypatch.setenv("SESSION_RETENTION", " 14 ")
    settings = load_settings()
    assert (settings.audit_retention, settings.security_event_retention) == (90, None)
    assert settings.session_retention == 14


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SESSION_RETENTION", "30d"),
        ("SESSION_RETENTION", ""),
        ("OUTBOX_RETENTION", "0"),
        ("AUDIT_RETENTION", "1.5"),
        ("SECURITY_EVENT_RETENTION", "99999"),
    ],
)
def test_a_retention_that_is_not_whole_days_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    refusal = _refusal()
    assert refusal.variable == name
    assert refusal.problem == "a whole number of days, 1 to 36500 (e.g. 30)"


def test_tls_and_ssl_exclude_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    monkeypatch.setenv("MAIL_USE_SSL", "true")
    assert _refusal().variable == "MAIL_USE_TLS"


def test_every_variable_is_documented_in_env_dev_and_readme() -> None:
    root = Path(__file__).resolve().parents[2]
    env_dev = (root / ".env.dev").read_text()
    readme = (root / "README.md").read_text()
    missing_env = sorted(n for n in _all_names() if f"{n}=" not in env_dev)
    missing_readme = sorted(n for n in _all_names() if f"`{n}" not in readme)
    assert missing_env == [], f".env.dev does not document {missing_env}"
    assert missing_readme == [], f"README.md does not document {missing_readme}"


def test_the_email_queue_defaults_to_the_email_transmitter_classic_with_every_event() -> None:
    from quart_template.email.messages import ALL_EVENTS

    settings = load_settings()
    assert (settings.email_queue, settings.email_queue_type) == ("email-transmitter", "classic")
    assert settings.transmitter_events == frozenset(ALL_EVENTS)


def test_email_transmitter_events_lists_event_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_TRANSMITTER_EVENTS", " user_created, RESET_PASSWORD ,")
    assert load_settings().transmitter_events == {"USER_CREATED", "RESET_PASSWORD"}
    monkeypatch.setenv("EMAIL_TRANSMITTER_EVENTS", "all")
    assert "MFA_ENABLED" in load_settings().transmitter_events


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("USER_CREATED,USER_CREATD", "USER_CREATD"),
        ("RESEND_CONFIRMATION", "sent as USER_CREATED"),  # a resend is a USER_CREATED email
    ],
)
def test_an_unknown_transmitter_event_is_named(
    monkeypatch: pytest.MonkeyPatch, value: str, hint: str
) -> None:
    monkeypatch.setenv("EMAIL_TRANSMITTER_EVENTS", value)
    error = _refusal()
    assert error.variable == "EMAIL_TRANSMITTER_EVENTS"
    assert hint in str(error)


def test_email_queue_type_is_classic_or_quorum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_QUEUE_TYPE", "Quorum")
    assert load_settings().email_queue_type == "quorum"
    monkeypatch.setenv("EMAIL_QUEUE_TYPE", "stream")
    assert _refusal().variable == "EMAIL_QUEUE_TYPE"


@pytest.mark.parametrize("value", ["", "amq.email"])
def test_a_queue_name_the_broker_refuses_is_named(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("EMAIL_QUEUE", value)
    assert _refusal().variable == "EMAIL_QUEUE"
