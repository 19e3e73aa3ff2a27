"""HTTP routes of MFA: parse, call the service, shape the seed's answer."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import document_response, validate_request

from quart_template.accounts.serializers import user_object
from quart_template.mfa import recovery, second_factor, service
from quart_template.mfa.schemas import (
    LoginMfaRequest,
    OtpVerifiedResponse,
    QrCodeRequest,
    QrCodeResponse,
    RecoveryCodesResponse,
    RecoveryLoginRequest,
    SecondFactorRequest,
    SetupMfaRequest,
    SignedInResponse,
    VerifyOtpRequest,
)
from quart_template.ratelimit import rate_limited
from quart_template.request_meta import client_ip, user_agent
from quart_template.runtime import runtime
from quart_template.schema import NO_STORE, Message
from quart_template.sessions.auth import current_caller, login_required

blueprint = Blueprint("mfa", __name__)


OTP_VERIFIED = "OTP verified successfully"
ENABLED = "MFA enabled successfully"
DISABLED = "MFA disabled successfully"
OTP_LOGIN = "The TOTP MFA token is valid"
RECOVERY_LOGIN = "The MFA recovery code is valid"

Reply = tuple[dict[str, Any], int, dict[str, str]] | tuple[dict[str, Any], int]


@blueprint.post("/qrcode")
@rate_limited("reauth")
@login_required
@validate_request(QrCodeRequest)
@document_response(QrCodeResponse)
async def qrcode(data: QrCodeRequest) -> Reply:
    """Start enrolment: the secret as a QR code, URI and text (409 once MFA is on)."""
    enrolment = await service.start_enrolment(
        runtime(),
        person=current_caller().person,
        login_type=data.login_type,
        password=data.password,
    )
    body = {
        "success": True,
        "image": enrolment.image,
        "uri": enrolment.uri,
        "secret": enrolment.secret,
    }
    return body, 200, NO_STORE


@blueprint.post("/verify_otp")
@rate_limited("mfa")
@login_required
@validate_request(VerifyOtpRequest)
@document_response(OtpVerifiedResponse)
async def verify_otp(data: VerifyOtpRequest) -> Reply:
    """The first code from the app confirms the method; the recovery codes come back once."""
    codes = await service.confirm_otp(runtime(), person=current_caller().person, otp=data.otp)
    data_out = {"otp_verified": True, "codes": codes}
    return {"message": OTP_VERIFIED, "success": True, "data": data_out}, 200, NO_STORE


@blueprint.post("/setup_mfa")
@rate_limited("mfa")
@login_required
@validate_request(SetupMfaRequest)
@document_response(Message)
async def setup_mfa(data: SetupMfaRequest) -> Reply:
    """`mfa_enabled: true` with a fresh code turns MFA on; `false` with a code or the password
    turns it off."""
    rt, person = runtime(), current_caller().person
    if data.mfa_enabled:
        assert data.otp is not None  # the schema insists
        await service.enable_mfa(rt, person=person, otp=data.otp)
        return {"message": ENABLED, "success": True}, 200
    await service.disable_mfa(rt, person=person, otp=data.otp, password=data.password)
    return {"message": DISABLED, "success": True}, 200


@blueprint.get("/recovery_codes")
@login_required
@document_response(RecoveryCodesResponse)
async def recovery_codes() -> Reply:
    """The unused recovery codes (only their number when RECOVERY_CODES_VIEWABLE is false)."""
    listing = await recovery.list_codes(runtime(), person=current_caller().person)
    if listing.codes is None:
        return {"success": True, "count": listing.count}, 200, NO_STORE
    return {"data": listing.codes, "success": True}, 200, NO_STORE


@blueprint.post("/recovery_codes")
@login_required
@document_response(RecoveryCodesResponse)
async def regenerate_recovery_codes() -> Reply:
    """A new set of recovery codes; the old ones stop working."""
    codes = await recovery.regenerate_codes(runtime(), person=current_caller().person)
    return {"data": codes, "success": True}, 200, NO_STORE


def _attempt(data: SecondFactorRequest) -> second_factor.Attempt:
    return second_factor.Attempt(
        mfa_token=data.mfa_token, email=data.email, ip=client_ip(), user_agent=user_agent()
    )


def _signed_in(message: str, signed_in: second_factor.SignedIn) -> Reply:
    user = user_object(signed_in.person, signed_in.token)
    return {"message": message, "success": True, "user": user}, 200, NO_STORE


@blueprint.post("/login_mfa")
@rate_limited("mfa")
@validate_request(LoginMfaRequest)
@document_response(SignedInResponse)
async def login_mfa(data: LoginMfaRequest) -> Reply:
    """Second factor by TOTP code: the user object with a fresh token."""
    signed_in = await second_factor.sign_in_with_otp(runtime(), _attempt(data), otp=data.otp)
    return _signed_in(OTP_LOGIN, signed_in)


@blueprint.post("/verify_recovery_code")
@rate_limited("recovery")
@validate_request(RecoveryLoginRequest)
@document_response(SignedInResponse)
async def verify_recovery_code(data: RecoveryLoginRequest) -> Reply:
    """Second factor by a recovery code (spent by this): the user object with a fresh token."""
    signed_in = await second_factor.sign_in_with_recovery_code(
        runtime(), _attempt(data), code=data.recovery_code
    )
    return _signed_in(RECOVERY_LOGIN, signed_in)
