"""The suite-wide answer check (tests/support/responses.py) catches what it is there for."""

from __future__ import annotations

from quart import Quart

from tests.support.responses import problem_with


def test_a_documented_answer_passes(app: Quart) -> None:
    view = app.view_functions["signin.login"]
    pending = {"mfa_enabled": True, "email": "a@example.com", "verified": True}
    ok = {"success": True, "user": pending, "mfa_token": "t"}
    assert problem_with(view, "POST", 200, ok) is None
    assert problem_with(view, "POST", 401, {"success": False, "message": "Invalid."}) is None


def test_an_undeclared_field_an_undocumented_status_and_a_bad_error_are_caught(
    app: Quart,
) -> None:
    view = app.view_functions["accounts.logout"]
    ok = {"success": True, "message": "User successfully logged out."}
    assert problem_with(view, "POST", 200, ok) is None
    assert problem_with(view, "POST", 200, {**ok, "token": "leaked"}) is not None
    assert problem_with(view, "POST", 201, ok) is not None
    assert problem_with(view, "POST", 401, {"message": "no"}) is not None
    assert problem_with(view, "POST", 401, {"success": True, "message": "no"}) is not None


def test_an_error_status_the_route_does_not_document_is_caught(app: Quart) -> None:
    view = app.view_functions["sessions.me"]
    refused = {"success": False, "message": "Nope."}
    assert problem_with(view, "GET", 401, refused) is None
    assert problem_with(view, "GET", 409, refused) == "error status 409 is not documented"
    assert problem_with(view, "GET", 500, refused) == "error status 500 is not documented"
