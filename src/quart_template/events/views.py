"""Pusher private-channel authentication: a signed-in person may subscribe to their own
`private-<entity>-<entity_id>` channels, and to nobody else's."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response, current_app, request
from quart_schema import RequestSchemaValidationError, document_response
from quart_schema.conversion import model_load
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE, DataSource

from quart_template.errors import Forbidden, NotFound
from quart_template.events.pusher import private_channel
from quart_template.openapi import answers
from quart_template.runtime import runtime
from quart_template.schema import ResponseModel
from quart_template.security.service import record_alone
from quart_template.sessions.auth import current_caller, login_required
from quart_template.web import client_info, reply

blueprint = Blueprint("events", __name__)

ENTITIES = frozenset(
    {"person", "login_method", "otp_method", "recovery_code", "passkey", "session"}
)
CHANNEL = re.compile(r"^private-(?P<entity>[a-z_]+)-(?P<owner>[0-9a-f]{32})$")


class PusherAuthRequest(BaseModel):
    """Pusher's channel-auth form; extra parameters a Pusher client adds are ignored."""

    model_config = ConfigDict(extra="ignore")

    socket_id: str = Field(max_length=64, pattern=r"^\d+\.\d+$")
    channel_name: str = Field(min_length=1, max_length=200, pattern=r"^[-a-zA-Z0-9_=@,.;]+$")


class PusherAuthResponse(ResponseModel):
    """Pusher's channel-auth answer: `<key>:<signature>`."""

    auth: str


def form_or_json(model: type[BaseModel]) -> Callable[..., Any]:
    """Validate a form-encoded (what pusher-js sends) or JSON body against `model`."""

    def decorator(view: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.mimetype == "application/json":
                raw = await request.get_json(silent=True)
            else:
                raw = (await request.form).to_dict()
            data = model_load(
                raw if isinstance(raw, dict) else {},
                model,
                RequestSchemaValidationError,
                decamelize=current_app.config["QUART_SCHEMA_CONVERT_CASING"],
                preference=current_app.config["QUART_SCHEMA_CONVERSION_PREFERENCE"],
            )
            return await view(*args, data=data, **kwargs)

        setattr(wrapper, QUART_SCHEMA_REQUEST_ATTRIBUTE, (model, DataSource.FORM))
        return wrapper

    return decorator


@blueprint.post("/pusher/auth")
@login_required
@answers(403, 404)
@form_or_json(PusherAuthRequest)
@document_response(PusherAuthResponse)
async def pusher_auth(data: PusherAuthRequest) -> Response:
    """Sign a subscription to one of the caller's own private channels."""
    client = runtime().pusher
    if client is None:
        raise NotFound("Pusher is not configured.")
    match = CHANNEL.match(data.channel_name)
    owner = current_caller().person.entity_id
    if (
        match is None
        or match["entity"] not in ENTITIES
        or data.channel_name != private_channel(match["entity"], owner)
    ):
        await record_alone(
            runtime(),
            "pusher_denied",
            person_id=owner,
            client=client_info(),
            channel=data.channel_name,
        )
        raise Forbidden("You may only subscribe to your own private channels.")
    signed: dict[str, str] = client.authenticate(
        channel=data.channel_name, socket_id=data.socket_id
    )
    return reply({"auth": signed["auth"]})
