"""`POST /pusher/auth` signs a person's own private channels and nobody else's."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from quart_template.settings import Settings
from tests.fakes.pusher_api import FakePusherAPI
from tests.support.events import pusher_settings, serving
from tests.support.factories import signed_in

SOCKET = "1234.5678"


def expected_auth(api: FakePusherAPI, channel: str) -> str:
    digest = hmac.new(api.secret.encode(), f"{SOCKET}:{channel}".encode(), hashlib.sha256)
    return f"{api.key}:{digest.hexdigest()}"


async def test_own_channels_are_signed_form_or_json(
    make_settings: Callable[..., Settings], pusher_api: FakePusherAPI
) -> None:
    async with serving(make_settings(**pusher_settings(pusher_api))) as (app, rt):
        me = await signed_in(rt)
        client = app.test_client()
        for entity in ("person", "login_method", "otp_method", "recovery_code", "session"):
            channel = f"private-{entity}-{me.person.entity_id}"
            response = await client.post(
                "/pusher/auth",
                form={"socket_id": SOCKET, "channel_name": channel},
                headers=me.headers,
            )
            assert response.status_code == 200, await response.get_data()
            assert await response.get_json() == {"auth": expected_auth(pusher_api, channel)}
        channel = f"private-person-{me.person.entity_id}"
        response = await client.post(
            "/pusher/auth", json={"socket_id": SOCKET, "channel_name": channel}, headers=me.headers
        )
        assert (await response.get_json())["auth"] == expected_auth(pusher_api, channel)


async def test_foreign_and_unknown_channels_are_refused(
    make_settings: Callable[..., Settings], pusher_api: FakePusherAPI
) -> None:
    async with serving(make_settings(**pusher_settings(pusher_api))) as (app, rt):
        me = await signed_in(rt)
        other = await signed_in(rt, email="other@example.com")
        client = app.test_client()
        for channel in (
            f"private-person-{other.person.entity_id}",
            f"private-secrets-{me.person.entity_id}",
            f"presence-person-{me.person.entity_id}",
            "person",
            f"private-encrypted-person-{me.person.entity_id}",
        ):
            response = await client.post(
                "/pusher/auth",
                form={"socket_id": SOCKET, "channel_name": channel},
                headers=me.headers,
            )
            assert response.status_code == 403, channel
            body = await response.get_json()
            assert body["success"] is False and "auth" not in body
        history = await client.get("/security_events", headers=me.headers)
        types = [event["type"] for event in (await history.get_json())["events"]]
        assert types == ["pusher_denied"] * 5  # the person sees who tried, and from where


async def test_malformed_requests_are_400_and_anonymous_401(
    make_settings: Callable[..., Settings], pusher_api: FakePusherAPI
) -> None:
    async with serving(make_settings(**pusher_settings(pusher_api))) as (app, rt):
        me = await signed_in(rt)
        client = app.test_client()
        channel = f"private-person-{me.person.entity_id}"
        for form in (
            {"socket_id": "not-a-socket", "channel_name": channel},
            {"socket_id": SOCKET, "channel_name": "bad channel!"},
            {"socket_id": SOCKET},
            {"channel_name": channel},
            {"socket_id": SOCKET, "channel_name": "x" * 201},
        ):
            response = await client.post("/pusher/auth", form=form, headers=me.headers)
            assert response.status_code == 400, form
            assert (await response.get_json())["success"] is False
        # A JSON body is checked as JSON: not UTF-8 or not an object is a 400, not a 500.
        for raw in (b"\xa0\xff)\x8f", b"[1]", b"{"):
            response = await client.post(
                "/pusher/auth",
                data=raw,
                headers={**me.headers, "Content-Type": "application/json"},
            )
            assert response.status_code == 400, raw
            assert (await response.get_json())["success"] is False
        anonymous = await client.post(
            "/pusher/auth", form={"socket_id": SOCKET, "channel_name": channel}
        )
        assert anonymous.status_code == 401


async def test_without_pusher_configured_there_is_nothing_to_sign(
    make_settings: Callable[..., Settings],
) -> None:
    async with serving(make_settings()) as (app, rt):
        me = await signed_in(rt)
        response = await app.test_client().post(
            "/pusher/auth",
            form={"socket_id": SOCKET, "channel_name": f"private-person-{me.person.entity_id}"},
            headers=me.headers,
        )
        assert response.status_code == 404
