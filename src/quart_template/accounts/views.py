"""HTTP routes of accounts: parse, call the service, answer as Flask Template did."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response, validate_request

from quart_template.accounts import password_change, service
from quart_template.accounts.schemas import (
    EmailRequest,
    Message,
    ResetPasswordRequest,
    SignupRequest,
    UpdatePasswordRequest,
)
from quart_template.openapi import answers
from quart_template.runtime import runtime
from quart_template.sessions.auth import current_caller, login_required
from quart_template.sessions.service import end_session
from quart_template.signin.responses import SignInResponse, sign_in_response
from quart_template.web import client_info, rate_limited, reply

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
@rate_limited("signup")
@validate_request(SignupRequest)
@document_response(Message, 201)
async def signup(data: SignupRequest) -> Response:
    """Create an account; a known email gets the same answer (its owner gets an email)."""
    await service.sign_up(runtime(), data=data, client=client_info())
    return _message(SIGNED_UP, 201)


@blueprint.post("/verify/<token>/<uidb64>")
@rate_limited("verify")
@document_response(SignInResponse)
async def verify(token: str, uidb64: str) -> Response:
    """Confirm the email address from the link and sign in."""
    outcome = await service.verify_email(
        runtime(), token=token, uidb64=uidb64, client=client_info()
    )
    return reply(sign_in_response(outcome, message=service.CONFIRMED), no_store=True)


@blueprint.post("/resend_confirmation")
@rate_limited("email")
@validate_request(EmailRequest)
@document_response(Message)
async def resend_confirmation(data: EmailRequest) -> Response:
    """Send the verification link again (same answer for unknown emails)."""
    await service.resend_confirmation(runtime(), email=data.email, client=client_info())
    return _message(CONFIRMATION_SENT)


@blueprint.post("/logout")
@login_required
@document_response(Message)
async def logout() -> Response:
    """Revoke the presented token on the server."""
    caller = current_caller()
    await end_session(
        runtime(),
        person_id=caller.person.entity_id,
        session_id=caller.session.entity_id,
        client=client_info(),
        event="logout",
    )
    return _message(LOGGED_OUT)


@blueprint.post("/forgot_password")
@rate_limited("email")
@validate_request(EmailRequest)
@document_response(Message)
async def forgot_password(data: EmailRequest) -> Response:
    """Email a reset link (same answer for unknown emails)."""
    await password_change.send_reset_link(runtime(), email=data.email, client=client_info())
    return _message(RESET_SENT)


@blueprint.post("/reset_password/<token>/<uidb64>")
@rate_limited("reset_password")
@validate_request(ResetPasswordRequest)
@document_response(Message)
async def reset_password(token: str, uidb64: str, data: ResetPasswordRequest) -> Response:
    """Set a new password from the emailed link; every session ends, nobody is signed in."""
    await password_change.reset_password(
        runtime(), token=token, uidb64=uidb64, password=data.password, client=client_info()
    )
    return _message(RESET_DONE)


@blueprint.post("/update_password")
@rate_limited("update_password")
@login_required
@answers(403)
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
        client=client_info(),
    )
    return _message(UPDATED)
