"""HTTP routes of signing in: parse, call the step, answer with the one sign-in response."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response, validate_request

from quart_template.openapi import answers
from quart_template.runtime import runtime
from quart_template.schema import Message
from quart_template.sessions.auth import current_caller, login_required
from quart_template.signin import second_factor
from quart_template.signin.password import log_in
from quart_template.signin.reauthenticate import reauthenticate
from quart_template.signin.responses import SignInResponse, sign_in_response
from quart_template.signin.schemas import (
    LoginMfaRequest,
    LoginRequest,
    ReauthenticateRequest,
    RecoveryLoginRequest,
    SecondFactorRequest,
)
from quart_template.web import client_info, rate_limited, reply

blueprint = Blueprint("signin", __name__)

OTP_LOGIN = "The TOTP MFA token is valid"
RECOVERY_LOGIN = "The MFA recovery code is valid"
PASSKEY_LOGIN = "The passkey is valid"
REAUTHENTICATED = "Re-authenticated: you may change your sign-in settings now."


@blueprint.post("/login")
@rate_limited("login")
@answers(401)
@validate_request(LoginRequest)
@document_response(SignInResponse)
async def login(data: LoginRequest) -> Response:
    """Email and password: the user object with a token, or the MFA step for MFA users."""
    outcome = await log_in(
        runtime(), email=data.email, password=data.password, client=client_info()
    )
    return reply(sign_in_response(outcome), no_store=True)


def _attempt(data: SecondFactorRequest) -> second_factor.Attempt:
    return second_factor.Attempt(mfa_token=data.mfa_token, email=data.email, client=client_info())


@blueprint.post("/login_mfa")
@rate_limited("mfa")
@answers(401)
@validate_request(LoginMfaRequest)
@document_response(SignInResponse)
async def login_mfa(data: LoginMfaRequest) -> Response:
    """Second factor by TOTP code, or by a passkey (`passkey`: the assertion answering
    `POST /passkeys/login/options {mfa_token}`): the user object with a fresh token."""
    if data.passkey is not None:
        signed_in = await second_factor.sign_in_with_passkey(
            runtime(), _attempt(data), credential=data.passkey
        )
        return reply(sign_in_response(signed_in, message=PASSKEY_LOGIN), no_store=True)
    assert data.otp is not None  # the schema insists on exactly one
    signed_in = await second_factor.sign_in_with_otp(runtime(), _attempt(data), otp=data.otp)
    return reply(sign_in_response(signed_in, message=OTP_LOGIN), no_store=True)


@blueprint.post("/verify_recovery_code")
@rate_limited("recovery")
@answers(401)
@validate_request(RecoveryLoginRequest)
@document_response(SignInResponse)
async def verify_recovery_code(data: RecoveryLoginRequest) -> Response:
    """Second factor by a recovery code (spent by this): the user object with a fresh token."""
    signed_in = await second_factor.sign_in_with_recovery_code(
        runtime(), _attempt(data), code=data.recovery_code
    )
    return reply(sign_in_response(signed_in, message=RECOVERY_LOGIN), no_store=True)


@blueprint.post("/reauthenticate")
@rate_limited("reauth")
@login_required
@answers(403)
@validate_request(ReauthenticateRequest)
@document_response(Message)
async def reauthenticate_caller(data: ReauthenticateRequest) -> Response:
    """Prove it is you again (exactly one of `password`, `otp`, `recovery_code`; a code is
    spent): the session may change factors for REAUTH_MAX_AGE seconds."""
    caller = current_caller()
    await reauthenticate(
        runtime(),
        person=caller.person,
        session=caller.session,
        password=data.password,
        otp=data.otp,
        recovery_code=data.recovery_code,
        client=client_info(),
    )
    return reply({"success": True, "message": REAUTHENTICATED})
