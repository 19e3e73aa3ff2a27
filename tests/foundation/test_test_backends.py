"""An unreachable test database or broker fails the run: CI never passes by skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.network import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_unreachable_test_backends_fail_the_run() -> None:
    env = dict(os.environ)
    env["TEST_DATABASE_URL"] = f"mysql+aiomysql://root@127.0.0.1:{free_port()}/none"
    env["TEST_AMQP_URL"] = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode not in (0, 5), output
    assert "TEST_DATABASE_URL" in output
    assert "TEST_AMQP_URL" in output
