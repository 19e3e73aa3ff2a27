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


def test_production_refuses_the_default_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    assert _refusal().variable == "SECRET_KEY"


def test_production_refuses_a_short_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "short")
    assert _refusal().variable == "SECRET_KEY"


def test_production_refuses_the_default_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret-value")
    assert _refusal().variable == "SECURITY_PASSWORD_SALT"
    monkeypatch.setenv("SECURITY_PASSWORD_SALT", "a-random-salt")
    assert load_settings().json_logs is True


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
    [("PORT", "http"), ("ACCESS_TOKEN_EXPIRE", "0"), ("ARGON2_MEMORY_COST", "1024")],
)
def test_bad_numbers_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    assert _refusal().variable == name


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
