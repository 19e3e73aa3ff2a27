"""Headless Chromium for the docs test: a page's DOM once its scripts ran, what it logged to the
console, and every URL the browser requested (from its net log). Host names resolve to nothing
but 127.0.0.1, so even a wrong page could not reach past the loopback."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

RUN_SECONDS = 120.0  # a bound, not an expectation (a run takes a few seconds)
# Chromium's own background traffic (updates, sync, spell-check dictionaries) is turned off, and
# what is left of it cannot resolve a name: only the page's requests reach a server.
FLAGS = [
    "--headless",
    "--no-sandbox",  # as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--virtual-time-budget=10000",  # let the scripts run and fetch before the DOM is dumped
    "--enable-logging=stderr",
    "--v=0",
]


def find_chromium() -> str:
    """Debian's chromium; a skip without it, unless REQUIRE_CHROMIUM=1 (CI): then a failure."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("REQUIRE_CHROMIUM") == "1":
        pytest.fail("REQUIRE_CHROMIUM=1 but chromium is not installed (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium); REQUIRE_CHROMIUM=1 fails")


@dataclass
class Visit:
    dom: str
    console: list[str]
    requests: list[dict[str, str]]  # the net log's URL_REQUEST_START_JOB parameters


async def visit(url: str, workdir: Path) -> Visit:
    """Open `url` in a fresh profile, bounded by RUN_SECONDS."""
    net_log = workdir / "net-log.json"
    command = [
        find_chromium(),
        *FLAGS,
        f"--user-data-dir={workdir / 'profile'}",
        f"--log-net-log={net_log}",
        "--dump-dom",
        url,
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its renderer and helpers go with it on a timeout
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), RUN_SECONDS)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise AssertionError(f"chromium did not finish within {RUN_SECONDS} s") from None
    log = err.decode(errors="replace")
    assert process.returncode == 0, f"chromium exited {process.returncode}:\n{log[-4000:]}"
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    return Visit(out.decode(errors="replace"), console, _requests(net_log))


def _requests(net_log: Path) -> list[dict[str, str]]:
    """The parameters of every request the browser started."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]
        for event in log["events"]
        if event["type"] == start and "url" in event.get("params", {})
    ]
