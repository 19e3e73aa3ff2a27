"""WEBAUTHN_*: defaults from FRONTEND_URL and MFA_ISSUER, and origins off the RP ID's domain
refused at start-up, naming the variable."""

from __future__ import annotations

import pytest

from quart_template.settings import ConfigError, Settings


def _settings(**values: str) -> Settings:
    base = {"secret_key": "s" * 40, "security_password_salt": "t" * 40}
    return Settings.model_validate({**base, **values})


def test_defaults_come_from_the_front_end() -> None:
    settings = _settings(FRONTEND_URL="https://app.example.com:8443/vue", MFA_ISSUER="Acme")
    assert settings.webauthn_rp_id == "app.example.com"
    assert settings.webauthn_rp_name == "Acme"
    assert settings.webauthn_origins == ["https://app.example.com:8443"]
    settings.check()


def test_explicit_values() -> None:
    settings = _settings(
        WEBAUTHN_RP_ID="example.com",
        WEBAUTHN_RP_NAME="Example",
        WEBAUTHN_ORIGINS="https://app.example.com, https://example.com/",
    )
    assert settings.webauthn_origins == ["https://app.example.com", "https://example.com"]
    settings.check()


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        (
            {"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": "https://evil.test"},
            "WEBAUTHN_ORIGINS",
        ),
        (
            {"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": "https://notexample.com"},
            "WEBAUTHN_ORIGINS",
        ),
        ({"WEBAUTHN_ORIGINS": "app.example.com"}, "WEBAUTHN_ORIGINS"),
        ({"WEBAUTHN_RP_ID": "https://example.com"}, "WEBAUTHN_RP_ID"),
        ({"PASSKEY_OPTIONS_LIMIT_PER_IP": "lots"}, "PASSKEY_OPTIONS_LIMIT_PER_IP"),
    ],
)
def test_bad_values_stop_start_up(values: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _settings(FRONTEND_URL="https://example.com", **values).check()
    assert refused.value.variable == variable
