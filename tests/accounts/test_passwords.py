"""Passwords: argon2id with the configured parameters, rehash, legacy werkzeug upgrade, NFKC,
the 8-128 policy with the shipped common-password list, over-long refused before hashing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from werkzeug.security import generate_password_hash

from quart_template.accounts import passwords
from quart_template.accounts.passwords import (
    PasswordTooLong,
    check_password_policy,
    common_passwords,
    hash_password,
    normalise_password,
    verify_password,
)
from quart_template.settings import Settings

GOOD = "correct horse battery staple"


def fullwidth(text: str) -> str:
    """The same text in full-width forms (what some East Asian keyboards type)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


async def test_hash_is_argon2id_with_configured_parameters(settings: Settings) -> None:
    stored = await hash_password(GOOD, settings=settings)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await verify_password(stored, GOOD, settings=settings) == (True, None)
    assert await verify_password(stored, GOOD + "!", settings=settings) == (False, None)


async def test_changed_parameters_give_a_new_hash_at_login(
    make_settings: Callable[..., Settings],
) -> None:
    old = make_settings(argon2_time_cost=2)
    new = make_settings(argon2_time_cost=3, argon2_memory_cost=20480)
    stored = await hash_password(GOOD, settings=old)
    ok, upgraded = await verify_password(stored, GOOD, settings=new)
    assert ok and upgraded is not None
    assert upgraded.startswith("$argon2id$v=19$m=20480,t=3,p=1$")
    assert await verify_password(upgraded, GOOD, settings=new) == (True, None)
    # a wrong password never yields a hash to store
    assert await verify_password(stored, "not the password", settings=new) == (False, None)


@pytest.mark.parametrize("method", ["pbkdf2:sha256", "scrypt", "pbkdf2:sha256:1000"])
async def test_legacy_werkzeug_hash_verifies_and_upgrades(settings: Settings, method: str) -> None:
    stored = generate_password_hash(GOOD, method=method)
    assert stored.startswith(method.split(":")[0] + ":")
    ok, upgraded = await verify_password(stored, GOOD, settings=settings)
    assert ok
    assert upgraded is not None and upgraded.startswith("$argon2id$")
    assert await verify_password(upgraded, GOOD, settings=settings) == (True, None)


async def test_legacy_hash_refuses_wrong_password(settings: Settings) -> None:
    stored = generate_password_hash(GOOD, method="pbkdf2:sha256:1000")
    assert await verify_password(stored, "wrong password", settings=settings) == (False, None)


async def test_legacy_hash_of_a_password_nfkc_changes_still_verifies(settings: Settings) -> None:
    typed = fullwidth("fullwidth pass")  # Flask Template hashed it as typed
    stored = generate_password_hash(typed, method="pbkdf2:sha256:1000")
    ok, upgraded = await verify_password(stored, typed, settings=settings)
    assert ok and upgraded is not None
    # the upgraded hash is of the NFKC form: ASCII input matches from now on
    assert (await verify_password(upgraded, "fullwidth pass", settings=settings))[0]


async def test_malformed_stored_hash_is_a_mismatch_not_a_crash(settings: Settings) -> None:
    for stored in ("pbkdf2:md9:1$salt$hash", "scrypt:zz$a$b", "$argon2id$garbage", "plain"):
        assert await verify_password(stored, GOOD, settings=settings) == (False, None)


async def test_nfkc_makes_equivalent_input_match(settings: Settings) -> None:
    stored = await hash_password(fullwidth("Password1234") + " \ufb01sh", settings=settings)
    assert (await verify_password(stored, "Password1234 fish", settings=settings))[0]
    assert normalise_password("ﬁ①") == "fi1"


async def test_missing_hash_costs_a_verification_and_fails(settings: Settings) -> None:
    assert await verify_password(None, GOOD, settings=settings) == (False, None)
    assert await verify_password("", GOOD, settings=settings) == (False, None)


async def test_over_long_password_is_refused_before_any_hashing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = await hash_password(GOOD, settings=settings)
    legacy = generate_password_hash(GOOD, method="pbkdf2:sha256:1000")

    def no_hashing(*args: object, **kwargs: object) -> PasswordHasher:
        raise AssertionError("hashing was attempted")

    monkeypatch.setattr(passwords, "hasher", no_hashing)
    monkeypatch.setattr(passwords, "check_password_hash", no_hashing)
    for too_long in ("a" * 129, "é" * 129, "x" * 1_000_000):
        with pytest.raises(PasswordTooLong):
            await hash_password(too_long, settings=settings)
        assert await verify_password(stored, too_long, settings=settings) == (False, None)
        assert await verify_password(legacy, too_long, settings=settings) == (False, None)
        assert await verify_password(None, too_long, settings=settings) == (False, None)


async def test_128_characters_is_still_accepted(settings: Settings) -> None:
    longest = "a1b2c3d4" * 16
    stored = await hash_password(longest, settings=settings)
    assert (await verify_password(stored, longest, settings=settings))[0]
    assert check_password_policy(longest, email="ada@example.com") is None


@pytest.mark.parametrize(
    ("password", "email", "problem"),
    [
        ("", "ada@example.com", "at least 8"),
        ("short12", "ada@example.com", "at least 8"),
        ("x" * 129, "ada@example.com", "at most 128"),
        ("password", "ada@example.com", "too common"),
        ("12345678", "ada@example.com", "too common"),
        ("PassWord", "ada@example.com", "too common"),
        ("iloveyou1", "ada@example.com", "too common"),
        ("ada.lovelace@example.com", "ada.lovelace@example.com", "email"),
        ("ADA.Lovelace@Example.com", "ada.lovelace@example.com", "email"),
        ("Ada.Lovelace", "ada.lovelace@example.com", "email"),
    ],
)
def test_policy_refuses_with_a_human_sentence(password: str, email: str, problem: str) -> None:
    message = check_password_policy(password, email=email)
    assert message is not None and problem in message
    assert message.endswith(".")


@pytest.mark.parametrize(
    "password",
    [GOOD, "zebra quasar", "ALLUPPERCASEWORDS", "12 odd llamas", "ﬁﬁﬁﬁ-nope"],
)
def test_policy_has_no_composition_rules(password: str) -> None:
    assert check_password_policy(password, email="ada@example.com") is None


def test_length_is_counted_after_nfkc() -> None:
    # four ligatures are four characters typed, eight after NFKC ("fifififi")
    assert len("ﬁﬁﬁﬁ") == 4
    assert check_password_policy("ﬁﬁﬁﬁ", email=None) is None
    assert "at least 8" in (check_password_policy("ﬁﬁﬁ", email=None) or "")


def test_common_list_is_shipped_large_and_loaded_once() -> None:
    common = common_passwords()
    assert len(common) >= 10_000
    assert {"password", "12345678", "qwerty", "123456789"} <= common
    assert common_passwords() is common
