"""Body rules for every JSON route: size cap (413), JSON only (415), a JSON object only (400);
odd values, bodies and headers are a JSON 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart_schema import validate_request

from quart_template.errors import JSON_REQUIRED
from quart_template.runtime import Runtime
from quart_template.schema import RequestModel
from tests.support.accounts import SIGNUP
from tests.support.factories import DEFAULT_PASSWORD, signed_in
from tests.support.http import json_error

ROUTE = "/body-rules-test"
# Real JSON routes, with the fields of their bodies.
JSON_ROUTES: list[tuple[str, list[str]]] = [
    ("/login", ["email", "password"]),
    ("/signup", ["first_name", "last_name", "email", "password", "login_method"]),
    ("/resend_confirmation", ["email"]),
    ("/forgot_password", ["email"]),
    ("/update_password", ["existing_password", "new_password"]),
]


class Greeting(RequestModel):
    name: str


@pytest.fixture
def client(app: Quart) -> Client:
    """The app with one test-only JSON route that echoes a validated body."""

    @app.post(ROUTE)
    @validate_request(Greeting)
    async def echo(data: Greeting) -> dict[str, object]:
        return {"success": True, "name": data.name}

    return app.test_client()


async def test_a_valid_object_reaches_the_view(client: Client) -> None:
    response = await client.post(ROUTE, json={"name": "Ada"})
    assert response.status_code == 200
    assert await response.get_json() == {"success": True, "name": "Ada"}


async def test_a_body_over_max_body_bytes_is_413(client: Client) -> None:
    response = await client.post(ROUTE, json={"name": "x" * (64 * 1024)})
    await json_error(response, 413)
    big = {"email": "a@example.com", "password": "x" * (64 * 1024)}
    await json_error(await client.post("/login", json=big), 413)
    await json_error(await client.post("/signup", json={**SIGNUP, "first_name": "x" * 70000}), 413)


async def test_the_body_cap_is_exactly_64_kib(client: Client) -> None:
    head, tail = b'{"email": "a@example.com", "password": "', b'"}'
    for size, status in ((64 * 1024, 400), (64 * 1024 + 1, 413)):
        raw = head + b"x" * (size - len(head) - len(tail)) + tail
        assert len(raw) == size
        response = await client.post(
            "/login", data=raw, headers={"Content-Type": "application/json"}
        )
        await json_error(response, status)


async def test_a_body_just_under_the_cap_is_accepted(client: Client) -> None:
    response = await client.post(ROUTE, json={"name": "x" * (60 * 1024)})
    assert response.status_code == 200


async def test_text_plain_is_415(client: Client) -> None:
    response = await client.post(
        ROUTE, data='{"name": "Ada"}', headers={"Content-Type": "text/plain"}
    )
    await json_error(response, 415)


@pytest.mark.parametrize("body", ["{not json", '["name", "Ada"]', '"Ada"', "null", "42"])
async def test_invalid_json_or_a_non_object_is_400(client: Client, body: str) -> None:
    response = await client.post(ROUTE, data=body, headers={"Content-Type": "application/json"})
    assert (await json_error(response, 400))["message"] == JSON_REQUIRED


async def test_a_body_without_a_content_type_is_400(client: Client) -> None:
    response = await client.post(ROUTE, data='{"name": "Ada"}')
    assert (await json_error(response, 400))["message"] == JSON_REQUIRED


async def test_an_empty_body_is_400(client: Client) -> None:
    response = await client.post(ROUTE, headers={"Content-Type": "application/json"})
    assert (await json_error(response, 400))["message"] == JSON_REQUIRED


async def test_unknown_fields_are_400_with_details(client: Client) -> None:
    response = await client.post(ROUTE, json={"name": "Ada", "verified": True})
    body = await json_error(response, 400)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert any(item["field"] == "verified" for item in errors)


async def test_a_missing_field_is_400_with_details(client: Client) -> None:
    body = await json_error(await client.post(ROUTE, json={}), 400)
    assert isinstance(body["errors"], list)


@pytest.mark.parametrize("path", [path for path, _ in JSON_ROUTES])
@pytest.mark.parametrize("raw", ["{bad", "[1, 2]", '"text"', "42", "null", "", "true"])
async def test_real_routes_refuse_a_body_that_is_not_a_json_object(
    client: Client, path: str, raw: str
) -> None:
    response = await client.post(path, data=raw, headers={"Content-Type": "application/json"})
    assert (await json_error(response, 400))["message"] == JSON_REQUIRED


@pytest.mark.parametrize("path", ["/login", "/signup", "/forgot_password", "/logout"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_real_routes_refuse_a_non_json_content_type(
    client: Client, path: str, content_type: str
) -> None:
    response = await client.post(path, data="email=a", headers={"Content-Type": content_type})
    await json_error(response, 415)


ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    10**40,
    1.5e308,
    True,
    [],
    ["a"],
    {},
    {"$gt": ""},
    "",
    " ",
    "\u0000",
    "\ud7ff\ue000\U0001f600",
    "x" * 5000,
    "a@b",
    "é@例え.テスト",
]
VALID: dict[str, Any] = {
    "email": "odd@example.com",
    "password": DEFAULT_PASSWORD,
    "first_name": "Odd",
    "last_name": "Input",
    "login_method": "signup",
    "existing_password": DEFAULT_PASSWORD,
    "new_password": "another passphrase",
}


async def test_odd_json_values_never_make_a_500(client: Client, rt: Runtime) -> None:
    user = await signed_in(rt)
    for path, fields in JSON_ROUTES:
        headers = user.headers if path == "/update_password" else {}
        for field in fields:
            for value in ODD_VALUES:
                body = {name: VALID[name] for name in fields}
                body[field] = value
                response = await client.post(path, json=body, headers=headers)
                assert response.status_code < 500, (path, field, value)
                if response.status_code >= 400:
                    await json_error(response, response.status_code)
            missing = {name: VALID[name] for name in fields if name != field}
            response = await client.post(path, json=missing, headers=headers)
            if field not in ("first_name", "last_name", "login_method"):
                await json_error(response, 400)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 30000 + b"]" * 30000,
        b'{"email": ' + b"[" * 30000 + b"]" * 30000 + b', "password": "x"}',
        b'\xef\xbb\xbf{"email": "a@b.com", "password": "x"}',
        b'{"email": "\xff\xfe", "password": "x"}',
        b'{"email": ' + b"9" * 5000 + b', "password": "x"}',
        b'{"email": NaN, "password": "x"}',
        b'{"email": "a\\ud800@b.com", "password": "abc\\udfffdefghij"}',
    ],
)
async def test_odd_raw_bodies_are_400(client: Client, raw: bytes) -> None:
    for path in ("/login", "/signup", "/forgot_password"):
        response = await client.post(path, data=raw, headers={"Content-Type": "application/json"})
        await json_error(response, 400)


async def test_odd_headers_never_make_a_500(client: Client) -> None:
    for headers in (
        {"Content-Type": "application/json; charset=latin-1"},
        {"Content-Type": "application/json", "Content-Length": "abc"},
        {"Content-Type": "application/json", "X-Forwarded-For": "not-an-ip, ,::::"},
        {"Content-Type": "application/json", "User-Agent": "x" * 10000},
    ):
        response = await client.post(
            "/login", data='{"email": "a@b.c", "password": "x"}', headers=headers
        )
        assert response.status_code < 500, headers
