"""Every route that checks a credential (password, OTP, recovery code, emailed token) carries
a rate limit: walk the app's routes and fail on any that lacks the `@rate_limited` mark."""

from __future__ import annotations

from quart import Quart

from quart_template.web import rate_limit_scope

# Paths (a trailing "/" means "this prefix and anything under it").
CREDENTIAL_ROUTES = (
    "/login",
    "/forgot_password",
    "/resend_confirmation",
    "/login_mfa",
    "/verify_recovery_code",
    "/verify_otp",
    "/setup_mfa",
    "/reset_password/",
    "/update_password",
    "/qrcode",
)


def is_credential_route(path: str) -> bool:
    return any(
        path.startswith(route) if route.endswith("/") else path == route
        for route in CREDENTIAL_ROUTES
    )


def test_every_credential_route_is_rate_limited(app: Quart) -> None:
    unmarked = []
    for rule in app.url_map.iter_rules():
        if not is_credential_route(rule.rule) or "POST" not in (rule.methods or ()):
            continue
        if rate_limit_scope(app.view_functions[rule.endpoint]) is None:
            unmarked.append(rule.rule)
    assert not unmarked, f"credential routes without @rate_limited: {sorted(unmarked)}"


def test_the_route_matcher() -> None:
    assert is_credential_route("/reset_password/<token>/<uidb64>")
    assert is_credential_route("/login")
    assert not is_credential_route("/login_method")
    assert not is_credential_route("/logout")
    assert not is_credential_route("/signup")
