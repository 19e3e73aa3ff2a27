"""HTTP routes of passkeys: registration, the list, removal, and signing in with one."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response, validate_request

from quart_template.openapi import answers
from quart_template.passkeys import service
from quart_template.passkeys.schemas import (
    CreationOptions,
    LoginOptionsRequest,
    PasskeyList,
    PasskeyLoginRequest,
    RegisteredPasskey,
    RegisterRequest,
    RequestOptions,
)
from quart_template.runtime import runtime
from quart_template.schema import Message
from quart_template.sessions.auth import current_caller, login_required, recent_auth_required
from quart_template.signin import passkey as signin
from quart_template.signin.responses import SignInResponse, sign_in_response
from quart_template.web import client_info, rate_limited, reply

blueprint = Blueprint("passkeys", __name__)

DELETED = "Passkey is deleted"
REGISTER_SCOPE = "passkey_register"


@blueprint.post("/passkeys/register/options")
@rate_limited(REGISTER_SCOPE)
@recent_auth_required
@answers(409)
@document_response(CreationOptions)
async def passkey_registration_options() -> Response:
    """Start registering a passkey (no body; needs a recent proof in the session): the
    creation options for `navigator.credentials.create()`; the challenge works once, for 5
    minutes (409 at 20 passkeys)."""
    options = await service.registration_options(
        runtime(), person=current_caller().person, client=client_info()
    )
    return reply({"success": True, **options}, no_store=True)


@blueprint.post("/passkeys/register")
@rate_limited(REGISTER_SCOPE)
@recent_auth_required
@answers(409)
@validate_request(RegisterRequest)
@document_response(RegisteredPasskey, 201)
async def register_passkey(data: RegisterRequest) -> Response:
    """Finish registering: the credential `navigator.credentials.create()` made, and a name
    for it; the stored passkey (201). The owner is emailed."""
    passkey = await service.register(
        runtime(),
        person=current_caller().person,
        credential=data.webauthn_credential(),
        name=data.name,
        client=client_info(),
    )
    return reply({"success": True, **service.passkey_item(passkey)}, 201)


@blueprint.get("/passkeys")
@login_required
@document_response(PasskeyList)
async def list_passkeys() -> Response:
    """The caller's passkeys, oldest first."""
    found = await service.list_passkeys(runtime(), person_id=current_caller().person.entity_id)
    return reply({"success": True, "passkeys": found}, no_store=True)


@blueprint.delete("/passkeys/<passkey_id>")
@rate_limited(service.REMOVE_SCOPE)
@recent_auth_required
@answers(409)
@document_response(Message)
async def delete_passkey(passkey_id: str) -> Response:
    """Remove one of the caller's passkeys (never the last way to sign in: 409); needs a
    recent proof in the session, and emails the owner."""
    await service.remove(
        runtime(),
        person_id=current_caller().person.entity_id,
        entity_id=passkey_id[:64],
        client=client_info(),
    )
    return reply({"success": True, "message": DELETED})


@blueprint.post("/passkeys/login/options")
@rate_limited(signin.PASSKEY_SCOPE)
@answers(401)
@validate_request(LoginOptionsRequest)
@document_response(RequestOptions)
async def passkey_login_options(data: LoginOptionsRequest) -> Response:
    """The request options for `navigator.credentials.get()`: `{}` for any passkey (the
    discoverable flow), `{email}` for that person's, `{mfa_token}` for the second factor of
    that login (401 when it is not live)."""
    rt, client = runtime(), client_info()
    if data.mfa_token is not None:
        options = await signin.second_factor_options(rt, mfa_token=data.mfa_token, client=client)
    else:
        options = await signin.login_options(rt, email=data.email, client=client)
    return reply({"success": True, **options}, no_store=True)


@blueprint.post("/passkeys/login")
@rate_limited(signin.PASSKEY_SCOPE)
@answers(401)
@validate_request(PasskeyLoginRequest)
@document_response(SignInResponse)
async def passkey_login(data: PasskeyLoginRequest) -> Response:
    """Sign in with a passkey: the assertion `navigator.credentials.get()` made. With user
    verification, the user object with a token; without, a first factor only (an MFA person
    gets the `mfa_token` step)."""
    outcome = await signin.log_in_with_passkey(
        runtime(), credential=data.webauthn_credential(), client=client_info()
    )
    return reply(sign_in_response(outcome), no_store=True)
