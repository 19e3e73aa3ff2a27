"""nginx running deploy/nginx/quart-template.conf.template in front of two real app instances:
a valid token reaches the protected service as X-User-* headers nobody else can write, a
missing or revoked one gets the app's own 401 and never reaches it, a revocation through one
instance holds at the other within 1 s, and the app sees the client nginx saw."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.gateway.conftest import Gateway

IDENTITY = ("x-user-id", "x-user-email", "x-user-verified", "x-user-mfa", "x-session-id")
REVOCATION_SECONDS = 1.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def identity_of(gateway: Gateway, http: httpx.Client, token: str) -> dict[str, str]:
    """What the service should be told, from the API itself (behind the same nginx)."""
    user = http.get(f"{gateway.a}/api/me", headers=bearer(token)).json()["user"]
    sessions = http.get(f"{gateway.a}/api/sessions", headers=bearer(token)).json()["sessions"]
    return {
        "x-user-id": user["entity_id"],
        "x-user-email": user["email"],
        "x-user-verified": "false",
        "x-user-mfa": "false",
        "x-session-id": sessions[0]["id"],
    }


def test_a_valid_token_reaches_the_service_with_who_it_is(
    gateway: Gateway, http: httpx.Client
) -> None:
    email, token = gateway.sign_up_and_log_in(http, gateway.a)
    expected = identity_of(gateway, http, token)
    assert expected["x-user-email"] == email
    before = len(gateway.upstream.requests)

    response = http.get(f"{gateway.a}/reports/42?year=2024", headers=bearer(token))

    assert response.status_code == 200, response.text
    assert len(gateway.upstream.requests) == before + 1
    seen = gateway.upstream.requests[-1]
    assert seen.path == "/reports/42?year=2024"
    assert {name: seen.values(name) for name in IDENTITY} == {
        name: [value] for name, value in expected.items()
    }
    assert seen.values("authorization") == []  # the service trusts the headers, not a token
    # The check itself is nginx's: a client cannot call it through the gateway.
    assert http.get(f"{gateway.a}/auth/check", headers=bearer(token)).status_code == 404


def test_identity_headers_a_client_sends_never_reach_the_service(
    gateway: Gateway, http: httpx.Client
) -> None:
    _, token = gateway.sign_up_and_log_in(http, gateway.a)
    expected = identity_of(gateway, http, token)
    forged = [(name, "forged") for name in ("X-User-Id", "x-user-email", "X-USER-VERIFIED")]
    forged += [("X-User-MFA", "true"), ("X-Session-Id", "forged"), ("X_User_Id", "forged")]

    response = http.get(f"{gateway.a}/inbox", headers=[*bearer(token).items(), *forged])

    assert response.status_code == 200, response.text
    seen = gateway.upstream.requests[-1]
    assert {name: seen.values(name) for name in IDENTITY} == {
        name: [value] for name, value in expected.items()
    }
    assert seen.values("x_user_id") == []
    assert "forged" not in response.text


def test_no_token_or_a_revoked_one_gets_the_apps_401_and_never_reaches_the_service(
    gateway: Gateway, http: httpx.Client
) -> None:
    _, token = gateway.sign_up_and_log_in(http, gateway.a)
    assert http.get(f"{gateway.a}/inbox", headers=bearer(token)).status_code == 200
    assert http.post(f"{gateway.a}/api/logout", headers=bearer(token)).status_code == 200
    app = f"http://{gateway.apps[0].address}"
    before = len(gateway.upstream.requests)

    for headers in ({}, {"X-User-Id": "someone"}, bearer(token), bearer("not-a-token")):
        response = http.get(f"{gateway.a}/inbox", headers=headers)
        direct = httpx.get(f"{app}/auth/check", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == direct.json()
        assert direct.json()["success"] is False and direct.json()["message"]
        assert "X-User-Id" not in response.headers
    # A write with a body is refused the same way (the check never takes the body).
    posted = http.post(f"{gateway.a}/inbox", headers=bearer(token), json={"text": "hello"})
    assert posted.status_code == 401
    assert posted.json() == direct.json()

    assert len(gateway.upstream.requests) == before


def test_a_token_revoked_through_one_instance_is_refused_through_the_other_within_1_s(
    gateway: Gateway, http: httpx.Client
) -> None:
    if gateway.redis_url is None:
        pytest.skip(
            "no Redis (TEST_REDIS_URL unset, nothing on 127.0.0.1:6379): instances see a "
            "revocation within 1 s only with REDIS_URL"
        )
    _, token = gateway.sign_up_and_log_in(http, gateway.a)
    assert http.get(f"{gateway.b}/inbox", headers=bearer(token)).status_code == 200

    assert http.post(f"{gateway.a}/api/logout", headers=bearer(token)).status_code == 200
    deadline = time.monotonic() + REVOCATION_SECONDS
    while (status := http.get(f"{gateway.b}/inbox", headers=bearer(token)).status_code) != 401:
        assert status == 200
        assert time.monotonic() < deadline, "instance B still accepts the token after 1 s"
        time.sleep(0.01)  # poll interval, not a wait for anything

    before = len(gateway.upstream.requests)
    assert http.get(f"{gateway.b}/inbox", headers=bearer(token)).status_code == 401
    assert len(gateway.upstream.requests) == before


def test_the_app_sees_the_client_nginx_saw_not_what_the_client_wrote(
    gateway: Gateway, http: httpx.Client
) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.7"}
    _, token = gateway.sign_up_and_log_in(http, gateway.a, headers=spoofed)

    sessions = http.get(f"{gateway.a}/api/sessions", headers=bearer(token)).json()["sessions"]

    # Not nginx's 127.0.0.1 (TRUSTED_PROXIES believes its X-Forwarded-For), not the claim.
    assert sessions[0]["ip"] == "127.0.0.2"
