"""/openapi.json documents the account and session bodies, and every credential route is limited."""

from __future__ import annotations

from quart import Quart
from quart.typing import TestClientProtocol as Client

from quart_template.web import rate_limit_scope


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


def test_password_checking_routes_are_rate_limited(app: Quart) -> None:
    for endpoint in ("signin.login", "accounts.update_password",
                     "accounts.forgot_password", "accounts.resend_confirmation"):  # fmt: skip
        assert rate_limit_scope(app.view_functions[endpoint]) is not None, endpoint
