"""Body rules for every JSON route: size cap (413), JSON only (415), a JSON object only (400)."""

from __future__ import annotations

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart_schema import validate_request

from quart_template.errors import JSON_REQUIRED
from quart_template.schema import RequestModel
from tests.support.http import json_error

ROUTE = "/body-rules-test"


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
