"""HTTP routes of accounts: parse, call the service, shape the seed's answer."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response, validate_request

from quart_template.accounts import password_change, service
from quart_template.accounts.schemas import (
    EmailRequest,
    LoginRequest,
    LoginResponse,
    Message,
    ResetPasswordRequest,
    SignupRequest,
    UpdatePasswordRequest,
    VerifyResponse,
)
from quart_template.ratelimit import rate_limited
from quart_template.request_meta import client_ip, user_agent
from quart_template.runtime import runtime
from quart_template.schema import reply
from quart_template.sessions.auth import current_caller, login_required
from quart_template.sessions.service import end_session

blueprint = Blueprint("accounts", __name__)

SIGNED_UP = "User successfully created and a confirmation email has been sent via email."
CONFIRMATION_SENT = "A confirmation email has been sent via email."
RESET_SENT = "Password reset email sent to the user"
RESET_DONE = "Your password has been updated! You are now able to log in."
UPDATED = "Password has been updated!!"
LOGGED_OUT = "User successfully logged out."


def _message(text: str, status: int = 200) -> Response:
    return reply({"success": True, "message": text}, status)


@blueprint.post("/signup")
@validate_request(SignupRequest)
@document_response(Message, 201)
async def signup(data: SignupRequest) -> Response:
    """Create an account; a known email gets the same answer (its owner gets an email)."""
    await service.sign_up(runtime(), data=data)
    return _message(SIGNED_UP, 201)


@blueprint.post("/verify/<token>/<uidb64>")
@document_response(VerifyResponse)
async def verify(token: str, uidb64: str) -> Response:
    """Confirm the email address from the link and sign in."""
    body = await service.verify_email(
        runtime(), token=token, uidb64=uidb64, ip=client_ip(), user_agent=user_agent()
    )
    return reply(body, no_store=True)


@blueprint.post("/resend_confirmation")
@rate_limited("email")
@validate_request(EmailRequest)
@document_response(Message)
async def resend_confirmation(data: EmailRequest) -> Response:
    """Send the verification link again (same answer for unknown emails)."""
    await service.resend_confirmation(runtime(), email=data.email)
    return _message(CONFIRMATION_SENT)


@blueprint.post("/login")
@rate_limited("login")
@validate_request(LoginRequest)
@document_response(LoginResponse)
async def login(data: LoginRequest) -> Response:
    """Email and password: the user object with a token, or the MFA step for MFA users."""
    body = await service.log_in(
        runtime(),
        email=data.email,
        password=data.password,
        ip=client_ip(),
        user_agent=user_agent(),
    )
    return reply(body, no_store=True)


@blueprint.post("/logout")
@login_required
@document_response(Message)
async def logout() -> Response:
    """Revoke the presented token on the server."""
    caller = current_caller()
    await end_session(
        runtime(), person_id=caller.person.entity_id, session_id=caller.session.entity_id
    )
    return _message(LOGGED_OUT)


@blueprint.post("/forgot_password")
@rate_limited("email")
@validate_request(EmailRequest)
@document_response(Message)
async def forgot_password(data: EmailRequest) -> Response:
    """Email a reset link (same answer for unknown emails)."""
    await password_change.send_reset_link(runtime(), email=data.email)
    return _message(RESET_SENT)


@blueprint.post("/reset_password/<token>/<uidb64>")
@rate_limited("reset_password")
@validate_request(ResetPasswordRequest)
@document_response(Message)
async def reset_password(token: str, uidb64: str, data: ResetPasswordRequest) -> Response:
    """Set a new password from the emailed link; every session ends, nobody is signed in."""
    await password_change.reset_password(
        runtime(), token=token, uidb64=uidb64, password=data.password
    )
    return _message(RESET_DONE)


@blueprint.post("/update_password")
@rate_limited("update_password")
@login_required
@validate_request(UpdatePasswordRequest)
@document_response(Message)
async def update_password(data: UpdatePasswordRequest) -> Response:
    """Change the password (the old one is re-checked); the other sessions end."""
    caller = current_caller()
    await password_change.update_password(
        runtime(),
        person_id=caller.person.entity_id,
        session_id=caller.session.entity_id,
        existing=data.existing_password,
        new=data.new_password,
    )
    return _message(UPDATED)
