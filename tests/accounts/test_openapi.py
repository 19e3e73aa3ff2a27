"""/openapi.json documents the account and session bodies."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client


async def test_openapi_lists_request_and_response_bodies(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    paths = spec["paths"]
    for path in ("/signup", "/login", "/resend_confirmation", "/forgot_password",
                 "/reset_password/{token}/{uidb64}", "/update_password"):  # fmt: skip
        operation = paths[path]["post"]
        assert "requestBody" in operation, path
        assert "200" in operation["responses"] or "201" in operation["responses"], path
    for path in ("/verify/{token}/{uidb64}", "/logout"):
        assert "200" in paths[path]["post"]["responses"]
    assert "200" in paths["/sessions"]["get"]["responses"]
    assert "delete" in paths["/sessions/{session_id}"]
    schemas = str(spec)
    for field in ("first_name", "existing_password", "access_token", "user_agent"):
        assert field in schemas
