"""A plain (non-editable) install from the wheel migrates and serves: the Alembic environment and
revisions, templates and word lists ship inside the package, nothing is read from a checkout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.network import free_port

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 120.0


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel installed (without dependencies: the test venv has them) on its own."""
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(work), str(ROOT)],
        check=True,
        timeout=DEADLINE,
        capture_output=True,
    )
    (wheel,) = work.glob("quart_template-*.whl")
    site = work / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        timeout=DEADLINE,
        capture_output=True,
    )
    return site


def _command(site: Path, *args: str) -> list[str]:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import quart_template; "
        "assert quart_template.__file__.startswith(sys.argv[1]), quart_template.__file__; "
        "from quart_template.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    return [sys.executable, "-c", code, str(site), *args]


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
    }


def test_the_installed_wheel_migrates_and_serves(installed: Path, tmp_path: Path) -> None:
    assert not (installed / "alembic.ini").exists()
    migrated = subprocess.run(
        _command(installed, "migrate"),
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "at revision" in migrated.stdout
    port = free_port()
    server = subprocess.Popen(
        _command(installed, "serve", "--port", str(port)),
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/signup",
                    json={
                        "email": "wheel@example.com",
                        "password": "a long passphrase 1",
                        "first_name": "Wheel",
                        "last_name": "Install",
                    },
                    timeout=10,
                )
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert response.status_code in (200, 201), response.text
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=DEADLINE)
        assert server.returncode == 0, stderr
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
