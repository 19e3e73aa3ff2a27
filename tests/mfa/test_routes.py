"""/openapi.json documents every MFA route that checks a credential."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

CREDENTIAL_ROUTES = ("/login_mfa", "/verify_recovery_code", "/verify_otp", "/setup_mfa", "/qrcode")


async def test_openapi_documents_the_mfa_bodies(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    paths = spec["paths"]
    for path in CREDENTIAL_ROUTES:
        operation = paths[path]["post"]
        assert "requestBody" in operation and "200" in operation["responses"], path
    assert "200" in paths["/recovery_codes"]["get"]["responses"]
    assert "200" in paths["/recovery_codes"]["post"]["responses"]
    schemas = str(spec)
    for field in ("mfa_token", "recovery_code", "login_type", "otp_verified"):
        assert field in schemas
