"""Every route that changes something carries a rate limit, unless it is exempt here for a
stated reason: a route that checks a password, a code or an emailed token, or sends email, is
never exempt. So do the GET routes that write a row each time (starting a social sign-in)."""

from __future__ import annotations

import re

from quart import Quart

from quart_template.web import rate_limit_scope

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

EXEMPT = {
    "/logout": "needs a valid token, ends that session; checks no credential, sends no email",
    "/sessions/<session_id>": (
        "needs a valid token, ends one of the caller's own sessions; checks no credential"
    ),
    "/pusher/auth": (
        "needs a valid token, signs only the caller's own private channels; checks no "
        "credential, sends no email"
    ),
}
# GET routes that write: each call keeps a row (a social sign-in flow) for anyone who asks.
WRITING_GETS = {"/social/<provider>/authorize"}
CONVERTER = re.compile(r"<(?:[^:<>]*:)?([^<>]+)>")
# Not exempt although they need a token: POST /recovery_codes and DELETE /social/<uuid> email
# the owner at every call.


def _mutating_paths(app: Quart) -> dict[str, list[str]]:
    """Path -> endpoints of the rules that accept POST, PUT, PATCH or DELETE."""
    found: dict[str, list[str]] = {}
    for rule in app.url_map.iter_rules():
        if MUTATING & set(rule.methods or ()):
            found.setdefault(rule.rule, []).append(rule.endpoint)
    return found


def test_every_mutating_route_is_rate_limited_or_exempt(app: Quart) -> None:
    unmarked = sorted(
        f"{path} ({endpoint})"
        for path, endpoints in _mutating_paths(app).items()
        for endpoint in endpoints
        if path not in EXEMPT and rate_limit_scope(app.view_functions[endpoint]) is None
    )
    assert not unmarked, f"routes without @rate_limited and not exempt: {unmarked}"


def test_every_exempt_path_is_a_mutating_route(app: Quart) -> None:
    stale = sorted(set(EXEMPT) - set(_mutating_paths(app)))
    assert not stale, f"exempt paths with no POST/PUT/PATCH/DELETE route: {stale}"


def test_every_get_route_that_writes_is_rate_limited(app: Quart) -> None:
    found = {CONVERTER.sub(r"<\1>", rule.rule): rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(found) >= WRITING_GETS, sorted(WRITING_GETS - set(found))
    unmarked = sorted(
        p for p in WRITING_GETS if rate_limit_scope(app.view_functions[found[p]]) is None
    )
    assert not unmarked, f"writing GET routes without @rate_limited: {unmarked}"
