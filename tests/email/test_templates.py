"""Every email event has a subject and a text + HTML template pair; HTML escapes user input."""

from __future__ import annotations

import pytest

from quart_template.email.messages import (
    ACCOUNT_EXISTS,
    ACCOUNT_TAKEN_OVER_BY_PROVIDER,
    ALL_EVENTS,
    RESET_PASSWORD,
    SOCIAL_LINKED,
    USER_CREATED,
)
from quart_template.email.render import UnknownEmailEvent, render_email
from quart_template.events.destinations import PermanentDeliveryError
from tests.support.email import LINK

DATA = {"link": LINK + "?a=1&b=2", "first_name": "Ada", "provider": "github"}


@pytest.mark.parametrize("event", ALL_EVENTS)
def test_every_event_renders(event: str) -> None:
    rendered = render_email(event, DATA)
    assert rendered.subject and "\n" not in rendered.subject
    assert "Hi Ada," in rendered.text
    assert "Hi Ada," in rendered.html
    assert rendered.html.lstrip().startswith("<!doctype html>")


@pytest.mark.parametrize("event", [USER_CREATED, RESET_PASSWORD, ACCOUNT_EXISTS])
def test_link_events_carry_the_link(event: str) -> None:
    rendered = render_email(event, DATA)
    assert DATA["link"] in rendered.text
    assert f'href="{LINK}?a=1&amp;b=2"' in rendered.html


def test_subjects() -> None:
    assert render_email(USER_CREATED, DATA).subject == "Confirm your email address"
    assert render_email(RESET_PASSWORD, DATA).subject == "Reset your password"
    assert render_email(SOCIAL_LINKED, DATA).subject == "A GitHub account was linked"
    assert render_email(ACCOUNT_TAKEN_OVER_BY_PROVIDER, DATA).subject == (
        "GitHub confirmed your address: your account was reset"
    )


def test_html_escapes_user_input_and_text_keeps_it() -> None:
    rendered = render_email(USER_CREATED, {**DATA, "first_name": "<script>x</script>"})
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;x&lt;/script&gt;" in rendered.html
    assert "Hi <script>x</script>," in rendered.text


def test_missing_name_still_reads_well() -> None:
    rendered = render_email(ACCOUNT_EXISTS, {"link": LINK})
    assert rendered.text.startswith("Hi,\n")


def test_unknown_event_is_a_permanent_failure() -> None:
    with pytest.raises(UnknownEmailEvent) as error:
        render_email("NOT_AN_EVENT", DATA)
    assert isinstance(error.value, PermanentDeliveryError)
