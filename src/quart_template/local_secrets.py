"""Secrets are never public: outside production an unset one is generated once and kept in
`./var/` (mode 0600, reused at the next start); production refuses short, repetitive or
published values."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

LOCAL_DIR = Path("var")
MIN_LENGTH = 32
MIN_DISTINCT = 10
GENERATED_BYTES = 48  # 64 URL-safe characters

# Values anyone can read, so none may sign or encrypt anything in production: earlier built-in
# defaults, the examples `.env.dev` published (a test keeps this in step with the file), and
# Flask Template's README.
PUBLISHED = frozenset(
    {
        "dev-secret-key-change-me",
        "dev-password-salt-change-me",
        "dev-only-secret-key-not-for-production",
        "dev-only-password-salt",
        "another-long-random-value",
        "replace-me-with-your-own-long-random-value",
        "puthereyoursecretkey",
        "puthereyoursecretpasswordsalt",
    }
)


def weakness(value: str) -> str | None:
    """Why `value` may not be a production secret; None when it may."""
    if not value:
        return "set a random value of at least 32 characters in production"
    if value.strip() in PUBLISHED:
        return "this value is published (an example or an old default); generate your own"
    if len(value) < MIN_LENGTH:
        return f"needs at least {MIN_LENGTH} characters in production"
    if len(set(value)) < MIN_DISTINCT:
        return f"needs at least {MIN_DISTINCT} different characters in production"
    return None


def kept_secret(name: str, directory: Path = LOCAL_DIR) -> str:
    """The value kept in `directory/name`, generated (random, mode 0600) the first time; two
    processes starting together end up with the same value."""
    path = directory / name
    if not path.exists():
        _generate(path)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # a copy made with a loose umask: keep it to its owner
    value = path.read_text("utf-8").strip()
    if not value:
        raise ValueError(f"{path} is empty")
    return value


def _generate(path: Path) -> None:
    """Write a new value to a private temporary file and link it into place: the link fails
    if another process got there first, and nobody ever reads a half-written file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secrets.token_urlsafe(GENERATED_BYTES) + "\n")
        with contextlib.suppress(FileExistsError):  # another process was first: use its value
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
