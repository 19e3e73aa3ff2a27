"""Access tokens in the Authorization header: Basic as the seed, Bearer too, nothing else."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from tests.support.factories import signed_in


async def test_basic_and_bearer_headers_both_work(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    for scheme in ("Basic", "Bearer", "bearer"):
        response = await client.get(
            "/sessions", headers={"Authorization": f"{scheme} {user.token}"}
        )
        assert response.status_code == 200, scheme


async def test_malformed_or_forged_headers_are_401_without_a_browser_prompt(
    client: Client, rt: Runtime
) -> None:
    user = await signed_in(rt)
    for header in (
        "Basic",
        f"Token {user.token}",
        f"Basic {user.token} extra",
        f"Basic {user.token}x",
        "Basic " + "a" * 5000,
        "Bearer ünïcode",
    ):
        response = await client.get("/sessions", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert "WWW-Authenticate" not in response.headers
        assert (await response.get_json())["success"] is False


async def test_no_header_is_401(client: Client) -> None:
    response = await client.get("/sessions")
    assert response.status_code == 401
    assert "WWW-Authenticate" not in response.headers


async def test_a_token_in_the_query_string_is_ignored(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    for name in ("access_token", "token", "Authorization"):
        response = await client.get("/sessions", query_string={name: user.token})
        assert response.status_code == 401


async def test_logout_revokes_the_presented_token(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    other = await client.post(
        "/login", json={"email": "ada@example.com", "password": user.password}
    )
    other_headers = {"Authorization": f"Bearer {(await other.get_json())['user']['access_token']}"}
    response = await client.post("/logout", headers=user.headers)
    assert response.status_code == 200
    assert await response.get_json() == {
        "success": True,
        "message": "User successfully logged out.",
    }
    assert (await client.get("/sessions", headers=user.headers)).status_code == 401
    assert (await client.post("/logout", headers=user.headers)).status_code == 401
    # Only that session ended.
    assert (await client.get("/sessions", headers=other_headers)).status_code == 200


async def test_logout_needs_a_token(client: Client) -> None:
    assert (await client.post("/logout")).status_code == 401
