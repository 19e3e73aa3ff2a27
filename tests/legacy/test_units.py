"""The small rules of the import, without a database."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from quart_template.legacy.mfa import readable_secret
from quart_template.legacy.plan import duplicate_people
from quart_template.legacy.progress import Progress
from quart_template.legacy.schema import FIRST_VERSION
from quart_template.legacy.source import async_url, ordered


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("mysql://u:p@db/flask", "mysql+aiomysql://u:p@db/flask"),
        ("mysql+pymysql://u:p@db/flask", "mysql+aiomysql://u:p@db/flask"),
        ("mariadb://u@db/flask", "mysql+aiomysql://u@db/flask"),
        ("sqlite:///old.db", "sqlite+aiosqlite:///old.db"),
        ("mysql+aiomysql://u@db/flask", "mysql+aiomysql://u@db/flask"),
    ],
)
def test_the_old_database_is_read_with_an_async_driver(given: str, used: str) -> None:
    assert async_url(given) == used


def test_another_database_is_refused() -> None:
    with pytest.raises(ValueError, match="MySQL, MariaDB or SQLite"):
        async_url("postgresql://db/flask")


def _version(version: str, previous: str, minute: int, latest: int = 0) -> dict[str, object]:
    return {
        "version": version,
        "previous_version": previous,
        "latest": latest,
        "changed_on": datetime(2023, 1, 1, 0, minute),
    }


def test_versions_follow_the_chain_and_the_latest_comes_last() -> None:
    # Clocks disagree with the chain: the chain wins, and `latest=1` is the current one.
    rows = [_version("c", "b", 1, latest=1), _version("a", FIRST_VERSION, 3), _version("b", "a", 2)]
    assert [row["version"] for row in ordered(rows)] == ["a", "b", "c"]


def test_of_duplicate_emails_the_latest_verified_person_wins() -> None:
    people = [
        {"entity_id": "old", "email": "A@x.io", "verified": 1, "changed_on": datetime(2023, 1, 1)},
        {"entity_id": "new", "email": "a@x.io", "verified": 1, "changed_on": datetime(2023, 2, 1)},
        {"entity_id": "unv", "email": "a@X.io ", "verified": 0, "changed_on": datetime(2023, 3, 1)},
        {"entity_id": "one", "email": "b@x.io", "verified": 0, "changed_on": datetime(2023, 3, 1)},
    ]
    assert sorted(duplicate_people(people)) == ["old", "unv"]


@pytest.mark.parametrize(
    ("secret", "kept"),
    [
        ("JBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXP"),
        ("jbsw y3dp ehpk 3pxp", "JBSWY3DPEHPK3PXP"),
        ("not base32!", None),
        ("", None),
        (None, None),
    ],
)
def test_an_otp_secret_must_be_base32(secret: str | None, kept: str | None) -> None:
    assert readable_secret(secret) == kept


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_line_and_a_log_gets_none() -> None:
    terminal, log = _Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = Progress(4, stream=stream)
        progress.advance(2)
        progress.advance(2)
        progress.finish()
    assert terminal.getvalue().endswith("4/4 people\n") and "\r" in terminal.getvalue()
    assert log.getvalue() == ""
