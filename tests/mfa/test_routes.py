"""Every MFA route of a signed-in person refuses a missing or invalid token; /openapi.json
documents every MFA route that checks a credential."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from tests.support.http import json_error

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


async def test_mfa_routes_of_a_signed_in_person_need_a_valid_token(client: Client) -> None:
    for path, body in (
        ("/qrcode", {"password": "a long enough passphrase", "login_type": "signup"}),
        ("/verify_otp", {"otp": "123456"}),
        ("/setup_mfa", {"mfa_enabled": False, "password": "a long enough passphrase"}),
        ("/recovery_codes", None),
    ):
        for header in ({}, {"Authorization": "Basic nonsense"}, {"Authorization": "Bearer"}):
            if body is None:  # no body at all ("null" would be a non-object body: 400)
                response = await client.post(path, headers=header)
            else:
                response = await client.post(path, json=body, headers=header)
            await json_error(response, 401)
    for header in ({}, {"Authorization": "Basic nonsense"}):
        await json_error(await client.get("/recovery_codes", headers=header), 401)
