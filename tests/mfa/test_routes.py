"""Every MFA route that checks a credential is rate limited and documented in /openapi.json."""

from __future__ import annotations

from quart import Quart
from quart.typing import TestClientProtocol as Client

from quart_template.web import rate_limit_scope

LIMITED = ("/login_mfa", "/verify_recovery_code", "/verify_otp", "/setup_mfa", "/qrcode")


def test_credential_routes_carry_the_rate_limit_mark(app: Quart) -> None:
    endpoints = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    for path in LIMITED:
        assert rate_limit_scope(app.view_functions[endpoints[path]]) is not None, path


async def test_openapi_documents_the_mfa_bodies(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    paths = spec["paths"]
    for path in LIMITED:
        operation = paths[path]["post"]
        assert "requestBody" in operation and "200" in operation["responses"], path
    assert "200" in paths["/recovery_codes"]["get"]["responses"]
    assert "200" in paths["/recovery_codes"]["post"]["responses"]
    schemas = str(spec)
    for field in ("mfa_token", "recovery_code", "login_type", "otp_verified"):
        assert field in schemas
