"""The Flask Template deployment the import tests move over: people with pbkdf2 and scrypt
hashes, verified and not, MFA with recovery codes, all four providers, deleted rows, several
versions per entity, an email used twice (three times), and an orphaned login method."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pyotp
from werkzeug.security import generate_password_hash

from tests.legacy.oldschema import OldDatabase

PASSWORD = "correct horse battery staple"
SCRYPT_PASSWORD = "another long passphrase"
PROVIDER_IDS = {"github": "1001", "google": "g-1002", "linkedin": "li-1003", "facebook": "fb1004"}


@dataclass
class World:
    """Entity ids by name, and what the old users still hold (passwords, secret, codes)."""

    ids: dict[str, str] = field(default_factory=dict)
    secret: str = ""
    codes: list[str] = field(default_factory=list)
    used_code: str = ""


async def _person(old: OldDatabase, email: str, *, password: str | None, verified: bool) -> str:
    return await old.save(
        "person",
        first_name="Old",
        last_name="User",
        email=email,
        password=password,
        verified=int(verified),
        verified_on=1672531200 if verified else None,
        access_token=uuid.uuid4().hex,  # a session of the old service: not carried over
        expires_in=3600,
    )


async def _signup_method(old: OldDatabase, person_id: str, email: str) -> str:
    return await old.save("login_method", name="signup", email=email, person_id=person_id)


async def _people(old: OldDatabase, world: World) -> None:
    pbkdf2 = generate_password_hash(PASSWORD, method="pbkdf2:sha256")
    ada = await _person(old, "ada@example.com", password=pbkdf2, verified=True)
    await old.save("person", ada, first_name="Ada")  # three versions
    await old.save("person", ada, last_name="Lovelace")
    world.ids["ada"] = ada
    world.ids["ada_signup"] = await _signup_method(old, ada, "ada@example.com")
    scrypt = generate_password_hash(SCRYPT_PASSWORD, method="scrypt")
    world.ids["sam"] = sam = await _person(old, "Sam@Example.com", password=scrypt, verified=True)
    await _signup_method(old, sam, "Sam@Example.com")
    pending = generate_password_hash(PASSWORD, method="pbkdf2:sha256")
    world.ids["una"] = await _person(old, "una@example.com", password=pending, verified=False)
    world.ids["dee"] = dee = await _person(old, "dee@example.com", password=pbkdf2, verified=True)
    world.ids["dee_signup"] = await _signup_method(old, dee, "dee@example.com")
    await old.delete("login_method", world.ids["dee_signup"])
    await old.delete("person", dee)


async def _mfa(old: OldDatabase, world: World) -> None:
    pbkdf2 = generate_password_hash(PASSWORD, method="pbkdf2:sha256")
    world.ids["mia"] = mia = await _person(old, "mia@example.com", password=pbkdf2, verified=True)
    await _signup_method(old, mia, "mia@example.com")
    world.secret = pyotp.random_base32(length=32)
    otp = await old.save(
        "otp_method", name="Authentication App", person_id=mia, secret=world.secret, enabled=0
    )
    await old.save("otp_method", otp, enabled=1)  # turned on after set-up
    world.ids["mia_otp"] = otp
    world.codes = [uuid.uuid4().hex.upper() for _ in range(3)]
    for code in world.codes:
        await old.save("recovery_code", otp_method_id=otp, token=code)
    world.used_code = uuid.uuid4().hex.upper()
    used = await old.save("recovery_code", otp_method_id=otp, token=world.used_code)
    await old.delete("recovery_code", used)  # Flask Template deleted a code once used
    world.ids["bad_code"] = await old.save("recovery_code", otp_method_id=otp, token="not-a-code")


async def _social(old: OldDatabase, world: World) -> None:
    for provider, uid in PROVIDER_IDS.items():
        email = f"{provider}@example.com"
        person = await _person(old, email, password=None, verified=True)
        world.ids[provider] = person
        world.ids[f"{provider}_method"] = await old.save(
            "login_method",
            name=provider,
            email=email,
            user_name=f"{provider}-user",
            person_id=person,
            sub=uid,
            access_token=f"old-{provider}-token",
            refresh_token="old-refresh",
            token_type="bearer",
        )
    world.ids["nosub"] = nosub = await _person(
        old, "nosub@example.com", password=None, verified=True
    )
    world.ids["nosub_method"] = await old.save(
        "login_method", name="github", email="nosub@example.com", person_id=nosub, sub=None
    )
    world.ids["orphan_method"] = await old.save(
        "login_method", name="github", person_id=uuid.uuid4().hex, sub="999"
    )
    world.ids["ownerless_method"] = await old.save("login_method", name="signup", person_id=None)


async def _duplicates(old: OldDatabase, world: World) -> None:
    """Three active people with one normalised email: the most recently changed verified
    one (dup_b) wins, though the unverified dup_c changed last."""
    pbkdf2 = generate_password_hash(PASSWORD, method="pbkdf2:sha256")
    world.ids["dup_a"] = await _person(old, "Dup@Example.com", password=pbkdf2, verified=True)
    world.ids["dup_b"] = await _person(old, "dup@example.com", password=pbkdf2, verified=True)
    world.ids["dup_c"] = await _person(old, " DUP@example.com", password=pbkdf2, verified=False)


async def build_world(old: OldDatabase) -> World:
    """Fill the old database; what the tests check against."""
    world = World()
    await _people(old, world)
    await _mfa(old, world)
    await _social(old, world)
    await _duplicates(old, world)
    return world
