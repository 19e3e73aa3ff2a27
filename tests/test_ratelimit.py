"""Brute-force limits through real HTTP requests: per account and client IP, per account from
all addresses, per client IP, per scope; a completed sign-in clears the account's counters;
email-sending limits; 429 with a Retry-After that says when a slot frees."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from quart import Quart, request
from quart.typing import TestClientProtocol as Client

from quart_template.app import create_app
from quart_template.errors import BadRequest, Unauthorized
from quart_template.runtime import runtime
from quart_template.settings import ConfigError, Settings
from quart_template.web import RATE_LIMITED_ATTR, client_info, rate_limit_scope, rate_limited

RIGHT = "the right password"
FIFTEEN_MINUTES = 15 * 60


def limited_app(settings: Settings, calls: list[str] | None = None) -> Quart:
    """The app plus small credential routes that use the limiter as the real ones do (a right
    password is a completed sign-in: it clears the account's counters)."""
    app = create_app(settings)

    @app.post("/_test/check/<scope>")
    @rate_limited("test")
    async def check(scope: str) -> dict[str, bool]:
        if calls is not None:
            calls.append(scope)
        body: dict[str, Any] = await request.get_json()
        limiter, ip = runtime().limiter, client_info().ip
        await limiter.guard_credentials(ip, account=body["email"], scope=scope)
        if body["password"] != RIGHT:
            await limiter.record_failure(ip, account=body["email"], scope=scope)
            raise Unauthorized("Invalid email or password.")
        await limiter.clear(body["email"])
        return {"success": True}

    @app.post("/_test/token/<token>")
    @rate_limited("reset_password")
    async def token_route(token: str) -> dict[str, bool]:
        if token != "good":
            raise BadRequest("The link is invalid or has expired.")
        return {"success": True}

    @app.post("/_test/forgot")
    async def forgot() -> dict[str, bool]:
        email = (await request.get_json())["email"]
        await runtime().limiter.guard_email_sending(
            client_info().ip, email, scope="forgot_password"
        )
        return {"success": True}

    return app


@asynccontextmanager
async def serving(settings: Settings, calls: list[str] | None = None) -> AsyncIterator[Client]:
    app = limited_app(settings, calls)
    async with app.test_app() as test_app:
        yield test_app.test_client()


def from_ip(ip: str) -> dict[str, Any]:
    return {"scope_base": {"client": (ip, 50000)}}


async def attempt(
    client: Client,
    email: str,
    password: str = "wrong",
    *,
    scope: str = "login",
    ip: str = "1.1.1.1",
) -> Any:
    return await client.post(
        f"/_test/check/{scope}", json={"email": email, "password": password}, **from_ip(ip)
    )


async def test_sixth_attempt_after_five_failures_gets_429(settings: Settings) -> None:
    async with serving(settings) as client:
        for _ in range(5):
            assert (await attempt(client, "ada@example.com")).status_code == 401
        refused = await attempt(client, "ada@example.com", RIGHT)
        body = await refused.get_json()
    assert refused.status_code == 429
    assert body == {"success": False, "message": "Too many attempts, please try again later."}
    retry_after = int(refused.headers["Retry-After"])
    assert FIFTEEN_MINUTES - 5 <= retry_after <= FIFTEEN_MINUTES


async def test_successes_do_not_count(settings: Settings) -> None:
    async with serving(settings) as client:
        for _ in range(10):
            assert (await attempt(client, "ada@example.com", RIGHT)).status_code == 200
        for _ in range(4):
            await attempt(client, "ada@example.com")
        assert (await attempt(client, "ada@example.com", RIGHT)).status_code == 200


async def test_a_stranger_failing_at_one_address_does_not_lock_the_owner_out_at_another(
    settings: Settings,
) -> None:
    async with serving(settings) as client:
        for _ in range(5):
            assert (await attempt(client, "ada@example.com", ip="203.0.113.9")).status_code == 401
        stranger = await attempt(client, "ada@example.com", RIGHT, ip="203.0.113.9")
        assert stranger.status_code == 429
        assert FIFTEEN_MINUTES - 5 <= int(stranger.headers["Retry-After"]) <= FIFTEEN_MINUTES
        # the account key is the normalised email
        assert (await attempt(client, " ADA@example.com ", ip="203.0.113.9")).status_code == 429
        assert (await attempt(client, "ada@example.com", RIGHT, ip="9.9.9.9")).status_code == 200


async def test_failures_from_many_addresses_lock_the_account_everywhere(
    make_settings: Callable[..., Settings],
) -> None:
    async with serving(make_settings(login_limit_per_account_all_ips="8/hour")) as client:
        for n in range(8):  # two failures per address: no address reaches its own limit
            ip = f"198.51.100.{n // 2}"
            assert (await attempt(client, "ada@example.com", ip=ip)).status_code == 401
        owner = await attempt(client, "ada@example.com", RIGHT, ip="9.9.9.9")
        assert owner.status_code == 429
        assert 3600 - 5 <= int(owner.headers["Retry-After"]) <= 3600
        assert (await attempt(client, "bob@example.com", RIGHT, ip="9.9.9.9")).status_code == 200


async def test_the_all_addresses_limit_defaults_to_a_hundred_an_hour(settings: Settings) -> None:
    async with serving(settings) as client:
        for n in range(100):
            ip = f"198.51.{n // 4}.{n % 4}"  # four failures per address, under its own five
            assert (await attempt(client, "ada@example.com", ip=ip)).status_code == 401
        assert (await attempt(client, "ada@example.com", RIGHT, ip="9.9.9.9")).status_code == 429


async def test_a_completed_sign_in_clears_the_account_counters_of_every_address_and_scope(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(login_limit_per_account_all_ips="8/hour")
    async with serving(settings) as client:
        for n in range(7):
            await attempt(client, "ada@example.com", ip=f"198.51.100.{n}")
        for _ in range(5):
            await attempt(client, "ada@example.com", scope="mfa", ip="203.0.113.9")
        assert (await attempt(client, "ada@example.com", RIGHT, ip="9.9.9.9")).status_code == 200
        # the lock on 203.0.113.9 (another scope) lifted, and the account budget is whole again
        assert (
            await attempt(client, "ada@example.com", RIGHT, scope="mfa", ip="203.0.113.9")
        ).status_code == 200
        for n in range(7):
            ip = f"192.0.2.{n}"
            assert (await attempt(client, "ada@example.com", ip=ip)).status_code == 401
        assert (await attempt(client, "ada@example.com", RIGHT, ip="9.9.9.9")).status_code == 200


async def test_a_clear_leaves_the_per_ip_counters(make_settings: Callable[..., Settings]) -> None:
    async with serving(make_settings(login_limit_per_ip="3/15minutes")) as client:
        for n in range(2):
            await attempt(client, f"u{n}@example.com", ip="7.7.7.7")
        assert (await attempt(client, "ada@example.com", RIGHT, ip="7.7.7.7")).status_code == 200
        await attempt(client, "u9@example.com", ip="7.7.7.7")
        assert (await attempt(client, "ada@example.com", RIGHT, ip="7.7.7.7")).status_code == 429


async def test_per_ip_limit_across_accounts(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(login_limit_per_ip="3/15minutes")
    async with serving(settings) as client:
        for n in range(3):
            assert (await attempt(client, f"user{n}@example.com", ip="7.7.7.7")).status_code == 401
        blocked = await attempt(client, "fresh@example.com", RIGHT, ip="7.7.7.7")
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["Retry-After"]) <= FIFTEEN_MINUTES
        other_ip = await attempt(client, "fresh@example.com", RIGHT, ip="8.8.8.8")
        assert other_ip.status_code == 200


async def test_marked_route_refuses_a_blocked_ip_before_the_view_runs(
    make_settings: Callable[..., Settings],
) -> None:
    calls: list[str] = []
    settings = make_settings(login_limit_per_ip="2/15minutes")
    async with serving(settings, calls) as client:
        await attempt(client, "a@example.com", scope="test", ip="7.7.7.7")
        await attempt(client, "b@example.com", scope="test", ip="7.7.7.7")
        assert (
            await attempt(client, "c@example.com", scope="test", ip="7.7.7.7")
        ).status_code == 429
    assert calls == ["test", "test"]


async def test_marked_route_counts_refusals_it_did_not_record(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(login_limit_per_ip="3/15minutes")
    async with serving(settings) as client:
        for n in range(3):
            bad = await client.post(f"/_test/token/bad{n}", json={}, **from_ip("7.7.7.7"))
            assert bad.status_code == 400
        blocked = await client.post("/_test/token/good", json={}, **from_ip("7.7.7.7"))
        assert blocked.status_code == 429
        assert (
            await client.post("/_test/token/good", json={}, **from_ip("8.8.8.8"))
        ).status_code == 200


async def test_a_failure_the_view_recorded_counts_once(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(login_limit_per_ip="3/15minutes")
    async with serving(settings) as client:
        for n in range(3):
            response = await attempt(client, f"u{n}@example.com", scope="test", ip="7.7.7.7")
            assert response.status_code == 401
        assert (
            await attempt(client, "v@example.com", RIGHT, scope="test", ip="7.7.7.7")
        ).status_code == 429


async def test_scopes_keep_separate_counters(settings: Settings) -> None:
    async with serving(settings) as client:
        for _ in range(5):
            await attempt(client, "ada@example.com", scope="mfa")
        assert (await attempt(client, "ada@example.com", RIGHT, scope="mfa")).status_code == 429
        assert (await attempt(client, "ada@example.com", RIGHT, scope="login")).status_code == 200
        assert (
            await attempt(client, "ada@example.com", RIGHT, scope="recovery")
        ).status_code == 200


async def test_every_app_starts_with_fresh_counters(settings: Settings) -> None:
    async with serving(settings) as client:
        for _ in range(5):
            await attempt(client, "ada@example.com")
        assert (await attempt(client, "ada@example.com", RIGHT)).status_code == 429
    async with serving(settings) as client:
        assert (await attempt(client, "ada@example.com", RIGHT)).status_code == 200


async def test_email_sending_counts_every_call(settings: Settings) -> None:
    async with serving(settings) as client:
        for _ in range(5):
            ok = await client.post("/_test/forgot", json={"email": "ada@example.com"})
            assert ok.status_code == 200
        refused = await client.post("/_test/forgot", json={"email": "Ada@Example.com"})
        assert refused.status_code == 429
        assert 3600 - 5 <= int(refused.headers["Retry-After"]) <= 3600
        other = await client.post("/_test/forgot", json={"email": "bob@example.com"})
        assert other.status_code == 200
        # a throttled login does not stop forgot-password, and the reverse
        for _ in range(5):
            await attempt(client, "bob@example.com")
        assert (
            await client.post("/_test/forgot", json={"email": "bob@example.com"})
        ).status_code == 200


async def test_unreachable_redis_falls_back_to_memory(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(redis_url="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="quart_template.ratelimit"):
        async with serving(settings) as client:
            for _ in range(5):
                assert (await attempt(client, "ada@example.com")).status_code == 401
            assert (await attempt(client, "ada@example.com", RIGHT)).status_code == 429
    warnings = [r for r in caplog.records if r.name == "quart_template.ratelimit"]
    assert warnings and "in memory" in warnings[0].getMessage()


def test_rate_limited_marks_the_view() -> None:
    async def view() -> str:
        return "ok"

    marked = rate_limited("login")(view)
    assert getattr(marked, RATE_LIMITED_ATTR) == "login"
    assert rate_limit_scope(marked) == "login"
    assert rate_limit_scope(view) is None


async def test_email_sending_per_client_ip_whatever_the_address(
    make_settings: Callable[..., Settings],
) -> None:
    async with serving(make_settings(email_limit_per_ip="3/hour")) as client:
        for n in range(3):
            sent = await client.post(
                "/_test/forgot", json={"email": f"u{n}@example.com"}, **from_ip("1.1.1.1")
            )
            assert sent.status_code == 200
        refused = await client.post(
            "/_test/forgot", json={"email": "u9@example.com"}, **from_ip("1.1.1.1")
        )
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        elsewhere = await client.post(
            "/_test/forgot", json={"email": "u9@example.com"}, **from_ip("2.2.2.2")
        )
        assert elsewhere.status_code == 200


@pytest.mark.parametrize(
    "variable",
    [
        "login_limit_per_account",
        "login_limit_per_account_all_ips",
        "email_limit_per_address",
        "email_limit_per_ip",
        "signup_limit_per_ip",
    ],
)
def test_bad_limit_setting_stops_start_up(
    make_settings: Callable[..., Settings], variable: str
) -> None:
    with pytest.raises(ConfigError) as error:
        make_settings(**{variable: "five per minute"}).check()
    assert error.value.variable == variable.upper()
