"""/openapi.json is a valid OpenAPI document that says every answer an operation can give, the
constraints the request models enforce, and nothing else (the fuzz test checks it against the
running app: test_openapi_fuzz.py)."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart_schema import document_response

from quart_template.openapi import error_statuses
from quart_template.schema import ResponseModel
from tests.support.factories import signed_in

METHODS = ("get", "post", "put", "patch", "delete")


async def _document(client: Client) -> dict[str, Any]:
    document: dict[str, Any] = await (await client.get("/openapi.json")).get_json()
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    ]


async def test_the_document_is_valid_openapi(client: Client) -> None:
    validate(await _document(client))


async def test_every_error_answer_has_the_error_schema(client: Client) -> None:
    document = await _document(client)
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)
    error = document["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["message"]
    assert set(error["properties"]) == {"success", "message", "errors", "reauth_required"}


async def test_the_documented_errors_are_those_the_code_gives(app: Quart, client: Client) -> None:
    """The statuses come from one function over the views' decorators; spot checks of it."""
    document = await _document(client)

    def documented(method: str, path: str) -> set[int]:
        responses = document["paths"][path][method.lower()]["responses"]
        return {int(status) for status in responses if int(status) >= 400}

    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        path = rule.rule.replace("<", "{").replace(">", "}")
        if path not in document["paths"]:
            continue
        for method in set(rule.methods or ()) - {"HEAD", "OPTIONS"}:
            assert documented(method, path) == set(error_statuses(view, {method})), path
    assert documented("POST", "/login") >= {400, 401, 413, 415, 429, 503}
    assert 401 not in documented("POST", "/signup")
    assert documented("GET", "/me") == {401, 503}
    assert documented("POST", "/qrcode") >= {403, 409, 429}
    assert documented("GET", "/recovery_codes") >= {401, 403}  # step-up
    assert documented("POST", "/social/github") >= {401, 409, 501, 502, 504}
    assert documented("DELETE", "/sessions/{session_id}") >= {404}
    assert "Retry-After" in document["paths"]["/login"]["post"]["responses"]["429"]["headers"]


async def test_request_bodies_are_required_with_their_constraints(client: Client) -> None:
    document = await _document(client)
    for method, path, operation in _operations(document):
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True, (method, path)

    def body(path: str) -> dict[str, Any]:
        content = document["paths"][path]["post"]["requestBody"]["content"]
        schema: dict[str, Any] = content["application/json"]["schema"]
        return schema

    signup = body("/signup")
    assert set(signup["required"]) == {"first_name", "last_name", "email", "password"}
    assert signup["properties"]["email"]["format"] == "email"
    assert signup["properties"]["email"]["maxLength"] == 320
    password = signup["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (8, 128)
    assert body("/update_password")["properties"]["new_password"]["minLength"] == 8
    assert "minLength" not in body("/login")["properties"]["password"]
    otp = body("/verify_otp")["properties"]["otp"]["anyOf"]
    assert {"type": "integer", "minimum": 0, "maximum": 999_999} in otp
    assert any(choice.get("pattern", "").count("[0-9]{6}") for choice in otp)
    qrcode = body("/qrcode")
    assert {"required": ["password"], "properties": {"password": {"not": {"type": "null"}}}} in (
        qrcode["anyOf"]
    )
    assert len(body("/reauthenticate")["oneOf"]) == 3


async def test_the_plain_answers_are_documented(client: Client) -> None:
    document = await _document(client)
    welcome = document["paths"]["/"]["get"]["responses"]
    assert set(welcome) == {"200"}  # no database, no body: nothing else can happen
    assert "text/plain" in welcome["200"]["content"]
    check = document["paths"]["/auth/check"]["get"]["responses"]["200"]
    assert "content" not in check
    assert {"X-User-Id", "X-User-Email", "X-Session-Id"} <= set(check["headers"])


async def test_pusher_auth_documents_its_form_body_and_answer(client: Client) -> None:
    operation = (await _document(client))["paths"]["/pusher/auth"]["post"]
    content = operation["requestBody"]["content"]
    assert {"application/x-www-form-urlencoded", "application/json"} <= set(content)
    form = content["application/x-www-form-urlencoded"]["schema"]
    assert set(form["required"]) == {"socket_id", "channel_name"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["required"] == ["auth"]
    assert {403, 404} <= {int(status) for status in operation["responses"]}


def test_two_models_of_one_name_are_refused(app: Quart) -> None:
    """Components are keyed by class name: a second `Profile` once replaced the user's."""

    class Profile(ResponseModel):
        something_else: int

    class Holder(ResponseModel):
        profile: Profile

    @app.get("/twin-test")
    @document_response(Holder)
    async def twin() -> dict[str, int]:
        return {}

    with pytest.raises(ValueError, match="Profile"):
        app.extensions["QUART_SCHEMA"].openapi_provider.schema()


async def test_options_lists_every_method_of_the_path(client: Client, app: Quart) -> None:
    person = await signed_in(app.extensions["runtime"])
    response = await client.options("/recovery_codes", headers=person.headers)
    assert response.status_code == 204
    assert {"GET", "POST", "OPTIONS"} <= set(response.headers["Allow"].split(", "))


async def test_request_types_are_strict_as_documented(client: Client, app: Quart) -> None:
    """`1` is no boolean and `"5"` no number: what the document calls invalid is refused."""
    person = await signed_in(app.extensions["runtime"])
    for body in ({"mfa_enabled": 1, "password": "x"}, {"mfa_enabled": "false", "password": "x"}):
        response = await client.post("/setup_mfa", json=body, headers=person.headers)
        assert response.status_code == 400, body
    facebook = {"accessToken": "t", "userID": "1", "expiresIn": "3600"}
    assert (await client.post("/social/facebook", json=facebook)).status_code == 400


async def test_operations_are_tagged_and_the_token_scheme_explained(client: Client) -> None:
    document = await _document(client)
    assert {operation["tags"][0] for _, _, operation in _operations(document)} >= {
        "accounts",
        "signin",
        "mfa",
        "social",
        "sessions",
    }
    scheme = document["components"]["securitySchemes"]["token"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "Basic <token>" in scheme["description"]
    assert "ErrorResponse" in document["info"]["description"]
