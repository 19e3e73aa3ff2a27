"""Access tokens in the Authorization header: Basic, Bearer too, nothing else."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from itsdangerous.timed import TimestampSigner
from quart.typing import TestClientProtocol as Client

from quart_template.runtime import Runtime
from quart_template.sessions import service
from tests.support.factories import DEFAULT_PASSWORD, signed_in
from tests.support.http import auth, json_error
from tests.support.signed import NOT_AN_ID, bad_tokens


async def test_basic_and_bearer_headers_both_work(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    for scheme in ("Basic", "Bearer", "bearer"):
        response = await client.get(
            "/sessions", headers={"Authorization": f"{scheme} {user.token}"}
        )
        assert response.status_code == 200, scheme
        assert (await response.get_json())["success"] is True


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


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Bearer",
        "Basic ",
        "Token abc",
        "abc",
        "Basic not-a-token",
        "Bearer a.b.c",
        "Basic " + base64.b64encode(f"ada@example.com:{DEFAULT_PASSWORD}".encode()).decode(),
        "Basic " + "x" * 5000,
        "Basic \u00e9\u00e9\u00e9",
        "Basic a b c",
    ],
)
async def test_a_malformed_header_is_401_on_every_route_that_needs_a_token(
    client: Client, rt: Runtime, header: str
) -> None:
    await signed_in(rt)  # HTTP Basic credentials of a real person are no token either
    for method, path in (("GET", "/sessions"), ("POST", "/logout")):
        response = await client.open(path, method=method, headers={"Authorization": header})
        await json_error(response, 401)
    response = await client.post(
        "/update_password",
        json={"existing_password": DEFAULT_PASSWORD, "new_password": "another passphrase"},
        headers={"Authorization": header},
    )
    await json_error(response, 401)


async def test_a_genuinely_signed_token_with_a_bad_payload_is_401(
    client: Client, rt: Runtime
) -> None:
    await signed_in(rt)
    tokens = bad_tokens(service._serializer(rt.settings), NOT_AN_ID)
    for name, token in tokens.items():
        response = await client.get("/sessions", headers=auth(token))
        assert response.status_code == 401, name
        await json_error(response, 401)


async def test_no_header_is_401(client: Client) -> None:
    response = await client.get("/sessions")
    assert response.status_code == 401
    assert "WWW-Authenticate" not in response.headers


async def test_a_token_in_the_query_string_is_ignored(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    for name in ("access_token", "token", "Authorization"):
        response = await client.get("/sessions", query_string={name: user.token})
        assert response.status_code == 401
    logout = await client.post("/logout", query_string={"access_token": user.token})
    await json_error(logout, 401)


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


async def test_an_access_token_expires_after_an_hour(
    client: Client, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await signed_in(rt)
    later = int(time.time()) + 3600 + 5
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    await json_error(await client.get("/sessions", headers=user.headers), 401)


async def test_parallel_logouts_of_one_token_never_fail(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    outs = await asyncio.gather(*(client.post("/logout", headers=user.headers) for _ in range(8)))
    codes = sorted(r.status_code for r in outs)
    assert codes[0] == 200 and all(c in (200, 401) for c in codes), codes
