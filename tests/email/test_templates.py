"""Every email event has a subject and a text + HTML template pair over its documented data
keys (the email-transmitter's); HTML escapes user input; rows of earlier builds still render."""

from __future__ import annotations

import pytest

from quart_template.email.messages import (
    ACCOUNT_EXISTS,
    ACCOUNT_TAKEN_OVER_BY_PROVIDER,
    ALL_EVENTS,
    DATA_KEYS,
    LINK_KEYS,
    RESEND_CONFIRMATION,
    RESET_PASSWORD,
    SOCIAL_LINKED,
    USER_CREATED,
)
from quart_template.email.payload import wire_form
from quart_template.email.render import UnknownEmailEvent, render_email
from quart_template.events.destinations import PermanentDeliveryError
from tests.support.email import LINK

ODD_LINK = LINK + "?a=1&b=2"


def data_for(event: str, name: str = "Ada") -> dict[str, str]:
    """Exactly the event's documented keys, as the services record them."""
    values = {
        "recipient_name": name,
        "provider": "github",
        "provider_name": "GitHub",
        "passkey_name": "Laptop",
    }
    values.update(dict.fromkeys(LINK_KEYS.values(), ODD_LINK))
    return {key: values[key] for key in DATA_KEYS[event]}


@pytest.mark.parametrize("event", ALL_EVENTS)
def test_every_event_renders(event: str) -> None:
    rendered = render_email(event, data_for(event))
    assert rendered.subject and "\n" not in rendered.subject
    assert "Hi Ada," in rendered.text
    assert "Hi Ada," in rendered.html
    assert rendered.html.lstrip().startswith("<!doctype html>")


@pytest.mark.parametrize("event", [USER_CREATED, RESET_PASSWORD, ACCOUNT_EXISTS])
def test_link_events_carry_the_link(event: str) -> None:
    rendered = render_email(event, data_for(event))
    assert ODD_LINK in rendered.text
    assert f'href="{LINK}?a=1&amp;b=2"' in rendered.html


def test_subjects() -> None:
    assert render_email(USER_CREATED, data_for(USER_CREATED)).subject == (
        "Confirm your email address"
    )
    assert render_email(RESET_PASSWORD, data_for(RESET_PASSWORD)).subject == "Reset your password"
    assert render_email(SOCIAL_LINKED, data_for(SOCIAL_LINKED)).subject == (
        "A GitHub account was linked"
    )
    assert render_email(ACCOUNT_TAKEN_OVER_BY_PROVIDER, data_for(SOCIAL_LINKED)).subject == (
        "GitHub confirmed your address: your account was reset"
    )


def test_html_escapes_user_input_and_text_keeps_it() -> None:
    rendered = render_email(USER_CREATED, data_for(USER_CREATED, name="<script>x</script>"))
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;x&lt;/script&gt;" in rendered.html
    assert "Hi <script>x</script>," in rendered.text


def test_missing_name_still_reads_well() -> None:
    rendered = render_email(ACCOUNT_EXISTS, {"recipient_name": "", "login_link": LINK})
    assert rendered.text.startswith("Hi,\n")


@pytest.mark.parametrize(
    ("event", "data", "expected"),
    [
        (USER_CREATED, {"link": LINK, "first_name": "Ada"}, data_for(USER_CREATED)),
        (RESEND_CONFIRMATION, {"link": LINK, "first_name": "Ada"}, data_for(USER_CREATED)),
        (RESET_PASSWORD, {"link": LINK, "first_name": "Ada"}, data_for(RESET_PASSWORD)),
        (
            ACCOUNT_EXISTS,
            {"link": LINK, "first_name": None},
            {"recipient_name": "", "login_link": LINK},
        ),
        (SOCIAL_LINKED, {"provider": "github"}, data_for(SOCIAL_LINKED, name="")),
    ],
)
def test_rows_of_earlier_builds_get_the_documented_keys(
    event: str, data: dict[str, str | None], expected: dict[str, str]
) -> None:
    """Emails still waiting in the outbox from before the upgrade go out with the new keys;
    a resend becomes the USER_CREATED it always was to the email-transmitter."""
    expected = {key: LINK if value == ODD_LINK else value for key, value in expected.items()}
    new_event, new_data = wire_form(event, data)
    assert new_event == (USER_CREATED if event == RESEND_CONFIRMATION else event)
    assert new_data == expected
    assert wire_form(new_event, new_data) == (new_event, new_data)  # already documented: kept
    assert LINK in render_email(event, data).text or event == SOCIAL_LINKED


def test_data_keys_cover_every_event_and_name_the_recipient() -> None:
    assert set(DATA_KEYS) == set(ALL_EVENTS)
    assert all(keys[0] == "recipient_name" for keys in DATA_KEYS.values())
    assert DATA_KEYS[USER_CREATED] == ("recipient_name", "confirmation_link")
    assert DATA_KEYS[RESET_PASSWORD] == ("recipient_name", "password_reset_url")


def test_unknown_event_is_a_permanent_failure() -> None:
    with pytest.raises(UnknownEmailEvent) as error:
        render_email("NOT_AN_EVENT", data_for(USER_CREATED))
    assert isinstance(error.value, PermanentDeliveryError)
