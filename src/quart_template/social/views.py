"""HTTP routes of social sign-in: parse, let the provider vouch, apply the linking rules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint, Response, request
from quart_schema import document_response, validate_querystring, validate_request

from quart_template.errors import Unauthorized
from quart_template.openapi import answers
from quart_template.runtime import runtime
from quart_template.schema import Message
from quart_template.sessions.auth import (
    current_caller,
    login_optional,
    login_required,
    optional_caller,
    recent_auth_required,
    token_from_header,
)
from quart_template.signin.outcomes import SignedIn
from quart_template.signin.responses import SignInResponse, sign_in_response
from quart_template.social import flows, methods, service
from quart_template.social.providers import facebook, github, google, linkedin
from quart_template.social.providers.base import Identity
from quart_template.social.schemas import (
    AuthorizeQuery,
    CodeSignIn,
    FacebookSignIn,
    FlowStarted,
    GoogleSignIn,
    LoginMethods,
)
from quart_template.web import client_info, rate_limited, reply

blueprint = Blueprint("social", __name__)

DELETED = "Login method is deleted"
SCOPE = "social"
# No email (400), refused or a bad state (401), disabled (403), linked elsewhere (409), not
# configured (501), the provider failing (502) or slow (504).
PROVIDER_ANSWERS = (400, 401, 403, 409, 501, 502, 504)
# A redirect URI that is not ours (400), an unknown provider (404), not configured (501).
AUTHORIZE_ANSWERS = (400, 404, 501)

SignInBody = CodeSignIn | GoogleSignIn | FacebookSignIn


async def _sign_in(
    provider: str, exchange: Callable[..., Awaitable[Identity]], payload: SignInBody
) -> Response:
    """The shared flow: a posted state is spent (or 401), the provider vouches (or
    401/502/504), then the linking rules."""
    rt, client = runtime(), client_info()
    try:
        flow = await flows.flow_for(rt, provider=provider, code=payload.code, state=payload.state)
        identity = await exchange(payload, http=rt.http, settings=rt.settings, flow=flow)
    except Unauthorized:
        await rt.limiter.record_failure(client.ip, account=None, scope=SCOPE)
        raise
    caller = optional_caller()
    outcome = await service.sign_in_with(
        rt,
        identity=identity,
        caller=caller,
        presented_token=token_from_header(request.headers.get("Authorization")) if caller else None,
        client=client,
    )
    # The provider's token answer comes with a signed-in person only (never with the MFA step).
    auth = identity.auth if isinstance(outcome, SignedIn) else None
    return reply(sign_in_response(outcome, auth=auth), no_store=True)


@blueprint.post("/social/github")
@rate_limited(SCOPE)
@login_optional
@answers(*PROVIDER_ANSWERS)
@validate_request(CodeSignIn)
@document_response(SignInResponse)
async def sign_in_github(data: CodeSignIn) -> Response:
    """Sign in (or link, when signed in) with a GitHub OAuth code (and its `state` when the
    sign-in started at /social/github/authorize)."""
    return await _sign_in("github", github.exchange, data)


@blueprint.post("/social/google")
@rate_limited(SCOPE)
@login_optional
@answers(*PROVIDER_ANSWERS)
@validate_request(GoogleSignIn)
@document_response(SignInResponse)
async def sign_in_google(data: GoogleSignIn) -> Response:
    """Sign in (or link, when signed in) with a Google ID token, or the code and `state` of a
    sign-in started at /social/google/authorize."""
    return await _sign_in("google", google.exchange, data)


@blueprint.post("/social/linkedin")
@rate_limited(SCOPE)
@login_optional
@answers(*PROVIDER_ANSWERS)
@validate_request(CodeSignIn)
@document_response(SignInResponse)
async def sign_in_linkedin(data: CodeSignIn) -> Response:
    """Sign in (or link, when signed in) with a LinkedIn OAuth code (and its `state` when the
    sign-in started at /social/linkedin/authorize)."""
    return await _sign_in("linkedin", linkedin.exchange, data)


@blueprint.post("/social/facebook")
@rate_limited(SCOPE)
@login_optional
@answers(*PROVIDER_ANSWERS)
@validate_request(FacebookSignIn)
@document_response(SignInResponse)
async def sign_in_facebook(data: FacebookSignIn) -> Response:
    """Sign in (or link, when signed in) with a Facebook access token, checked with Facebook,
    or the code and `state` of a sign-in started at /social/facebook/authorize."""
    return await _sign_in("facebook", facebook.exchange, data)


# The providers as an `any` converter: the OpenAPI document lists them, any other name is 404.
AUTHORIZE_PATH = f"/social/<any({', '.join(flows.CODE_FLOWS)}):provider>/authorize"


@blueprint.get(AUTHORIZE_PATH)
@rate_limited(SCOPE)
@answers(*AUTHORIZE_ANSWERS)
@validate_querystring(AuthorizeQuery)
@document_response(FlowStarted)
async def start_sign_in(provider: str, query_args: AuthorizeQuery) -> Response:
    """Start a server-driven sign-in: the provider's authorize URL, with a `state` (and PKCE,
    and for Google a nonce) binding the code to a flow kept here for 10 minutes."""
    started = await flows.start(
        runtime(), provider=provider, redirect_uri=query_args.redirect_uri, client=client_info()
    )
    return reply(FlowStarted(url=started.url, state=started.state), no_store=True)


@blueprint.get("/social")
@login_required
@document_response(LoginMethods)
async def list_login_methods() -> Response:
    """The caller's login methods, each with its provider profile."""
    found = await methods.list_methods(runtime(), person_id=current_caller().person.entity_id)
    return reply({"login_methods": found, "success": True}, no_store=True)


@blueprint.delete("/social/<uuid>")
@rate_limited(methods.UNLINK_SCOPE)
@recent_auth_required
@answers(409)
@document_response(Message)
async def delete_login_method(uuid: str) -> Response:
    """Unlink one of the caller's login methods (never the last way to sign in); needs a
    recent proof in the session, and emails the owner."""
    await methods.unlink(
        runtime(),
        person_id=current_caller().person.entity_id,
        entity_id=uuid,
        client=client_info(),
    )
    return reply({"message": DELETED, "success": True})
