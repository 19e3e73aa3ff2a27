"""import-legacy benchmark: how long moving a Flask Template database of 100,000 people takes.

Generates a Flask Template SQLite database (its MySQL DDL, as tests/legacy builds it): every
person with two versions and a signup method, one in five with a GitHub method, one in twenty
with MFA on and ten recovery codes, one in a hundred deleted. Password hashes are one real
werkzeug hash for all (the import copies hashes, it never computes one). Then, with the real
command line on a migrated SQLite file (or `--database-url`, an empty database that `migrate`
brings to the schema): the import, and a second run (which finds everything there and writes
nothing).

Target: the import in under 2 minutes on this machine.

    .venv/bin/python bench/legacy_import.py [--people 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.legacy.oldschema import DDL, INDEXES, VERSIONED

BIN = Path(sys.executable).parent
FIRST = "0" * 32
TARGET_SECONDS = 120.0


def _columns(table: str) -> list[str]:
    names = ["entity_id", "version", "previous_version", "active", "latest", "changed_by_id"]
    names.append("changed_on")
    return names + [part.split()[0] for part in DDL[table].replace("\n", " ").split(",")]


def _rows_of(person_index: int, hashed: str, secret: str) -> dict[str, list[tuple[object, ...]]]:
    """One person's rows in every table."""
    pid, v1, v2 = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    when = f"2023-01-01 {person_index % 24:02d}:{person_index % 60:02d}:00"
    email = f"person{person_index}@example.com"
    deleted = person_index % 100 == 99
    common = (hashed, 1, 1672531200, uuid.uuid4().hex, 3600)
    rows: dict[str, list[tuple[object, ...]]] = {t: [] for t in DDL}
    rows["person"] += [
        (pid, v1, FIRST, 1, 0, pid, when, "First", "Last", email, *common),
        (pid, v2, v1, 0 if deleted else 1, 1, pid, when, "Changed", "Last", email, *common),
    ]
    methods = [("signup", None)] + (
        [("github", str(person_index))] if person_index % 5 == 0 else []
    )
    for name, sub in methods:
        versioned = (uuid.uuid4().hex, uuid.uuid4().hex, FIRST, 1, 1, pid, when)
        tokens = (None, None, None, None, None, None)
        rows["login_method"].append((*versioned, name, None, email, pid, *tokens, sub, None))
    if person_index % 20 == 0:
        otp = uuid.uuid4().hex
        rows["otp_method"].append(
            (otp, uuid.uuid4().hex, FIRST, 1, 1, pid, when, "Authentication App", pid, secret, 1)
        )
        for _ in range(10):
            code = uuid.uuid4().hex.upper()
            rows["recovery_code"].append(
                (uuid.uuid4().hex, uuid.uuid4().hex, FIRST, 1, 1, pid, when, otp, code)
            )
    return rows


def generate(path: Path, people: int) -> dict[str, int]:
    """The old database, written with sqlite3 in one transaction; rows per table."""
    hashed = generate_password_hash("bench passphrase 0123", method="pbkdf2:sha256")
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    conn = sqlite3.connect(path)
    for name, columns in DDL.items():
        conn.execute(
            f"CREATE TABLE {name} ({VERSIONED} {columns}, PRIMARY KEY (entity_id, version))"
        )
        if name in INDEXES:
            conn.execute(f"CREATE INDEX ix_{name} ON {name} ({INDEXES[name]})")
    counts = dict.fromkeys(DDL, 0)
    for start in range(0, people, 5000):
        batch: dict[str, list[tuple[object, ...]]] = {t: [] for t in DDL}
        for index in range(start, min(start + 5000, people)):
            for table, rows in _rows_of(index, hashed, secret).items():
                batch[table] += rows
        for table, rows in batch.items():
            names = _columns(table)
            marks = ", ".join("?" * len(names))
            conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)
            counts[table] += len(rows)
    conn.commit()
    conn.close()
    return counts


def run(cli: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cli, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        default=None,
        help="import into this (empty, e.g. MariaDB) database instead of a new SQLite file",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        started = time.perf_counter()
        counts = generate(workdir / "flask_template.db", args.people)
        made = ", ".join(f"{n} {t} rows" for t, n in counts.items())
        print(f"generated {made} in {time.perf_counter() - started:.1f} s")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "MYSQL_"))}
        env.update(
            APP_ENV="development",
            DATABASE_URL=args.database_url or f"sqlite+aiosqlite:///{workdir / 'quart.db'}",
            AMQP_URL="",
            LOG_LEVEL="WARNING",
        )
        quart = str(BIN / "quart-template")
        subprocess.run([quart, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
        source = f"sqlite:///{workdir / 'flask_template.db'}"
        seconds, summary = run([quart, "import-legacy", "--from", source], env)
        print(f"import:     {seconds:6.1f} s  {summary}")
        again, summary = run([quart, "import-legacy", "--from", source], env)
        print(f"second run: {again:6.1f} s  {summary}")
        rate = args.people / seconds if seconds else 0.0
        verdict = "ok" if seconds < TARGET_SECONDS else "MISSED"
        print(f"target: under 2 min ({args.people} people, {rate:.0f} people/s)  {verdict}")


if __name__ == "__main__":
    main()
