"""HTTP routes of MFA enrolment and recovery codes: parse, call the service, answer as Flask
Template did (the second factor at sign-in is in `signin`)."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response, validate_request

from quart_template.mfa import recovery, service, switch
from quart_template.mfa.schemas import (
    OtpVerifiedResponse,
    QrCodeRequest,
    QrCodeResponse,
    RecoveryCodesResponse,
    SetupMfaRequest,
    VerifyOtpRequest,
)
from quart_template.openapi import answers
from quart_template.runtime import runtime
from quart_template.schema import Message
from quart_template.sessions.auth import current_caller, login_required, recent_auth_required
from quart_template.web import client_info, rate_limited, reply

blueprint = Blueprint("mfa", __name__)


OTP_VERIFIED = "OTP verified successfully"
ENABLED = "MFA enabled successfully"
DISABLED = "MFA disabled successfully"


@blueprint.post("/qrcode")
@rate_limited("reauth")
@login_required
@answers(403, 404, 409)  # 404: the person is gone (lock_person)
@validate_request(QrCodeRequest)
@document_response(QrCodeResponse)
async def qrcode(data: QrCodeRequest) -> Response:
    """Start enrolment: the secret as a QR code, URI and text (409 once MFA is on). The
    password proves the caller; without one (`social`), the session's proof must be recent."""
    caller = current_caller()
    enrolment = await service.start_enrolment(
        runtime(),
        person=caller.person,
        session=caller.session,
        login_type=data.login_type,
        password=data.password,
        client=client_info(),
    )
    body = {
        "success": True,
        "image": enrolment.image,
        "uri": enrolment.uri,
        "secret": enrolment.secret,
    }
    return reply(body, no_store=True)


@blueprint.post("/verify_otp")
@rate_limited("mfa")
@recent_auth_required
@answers(404, 409)  # 404: the person is gone (lock_person)
@validate_request(VerifyOtpRequest)
@document_response(OtpVerifiedResponse)
async def verify_otp(data: VerifyOtpRequest) -> Response:
    """The first code from the app confirms the method; the recovery codes come back once
    (needs a recent proof in the session)."""
    codes = await service.confirm_otp(
        runtime(), person=current_caller().person, otp=data.otp, client=client_info()
    )
    data_out = {"otp_verified": True, "codes": codes}
    return reply({"message": OTP_VERIFIED, "success": True, "data": data_out}, no_store=True)


@blueprint.post("/setup_mfa")
@rate_limited("mfa")
@login_required
@answers(403, 404, 409)
@validate_request(SetupMfaRequest)
@document_response(Message)
async def setup_mfa(data: SetupMfaRequest) -> Response:
    """`mfa_enabled: true` with an unspent code (or the one that confirmed set-up, shortly
    after) turns MFA on, with a recent proof in the session; `false` with an unspent code or
    the password turns it off."""
    rt, caller, client = runtime(), current_caller(), client_info()
    if data.mfa_enabled:
        assert data.otp is not None  # the schema insists
        await switch.enable_mfa(
            rt, person=caller.person, session=caller.session, otp=data.otp, client=client
        )
        return reply({"message": ENABLED, "success": True})
    await switch.disable_mfa(
        rt,
        person=caller.person,
        session=caller.session,
        otp=data.otp,
        password=data.password,
        client=client,
    )
    return reply({"message": DISABLED, "success": True})


@blueprint.get("/recovery_codes")
@recent_auth_required
@document_response(RecoveryCodesResponse)
async def recovery_codes() -> Response:
    """The unused recovery codes (only their number when RECOVERY_CODES_VIEWABLE is false);
    needs a recent proof in the session."""
    listing = await recovery.list_codes(
        runtime(), person=current_caller().person, client=client_info()
    )
    if listing.codes is None:
        return reply({"success": True, "count": listing.count}, no_store=True)
    return reply({"data": listing.codes, "success": True}, no_store=True)


@blueprint.post("/recovery_codes")
@rate_limited("recovery_codes")
@recent_auth_required
@document_response(RecoveryCodesResponse)
async def regenerate_recovery_codes() -> Response:
    """A new set of recovery codes; the old ones stop working (needs a recent proof in the
    session; each set emails a notice, so sets count against the email limits)."""
    codes = await recovery.regenerate_codes(
        runtime(), person=current_caller().person, client=client_info()
    )
    return reply({"data": codes, "success": True}, no_store=True)
