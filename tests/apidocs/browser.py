"""Headless Chromium for the docs test: a page's DOM once its scripts ran, what it logged to the
console, and every URL the browser requested (from its net log). Host names resolve to nothing
but 127.0.0.1, so even a wrong page could not reach past the loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from tests.support.chromium import FLAGS, find_chromium

RUN_SECONDS = 120.0  # a bound, not an expectation (a run takes a few seconds)
VISIT_FLAGS = [
    *FLAGS,
    "--virtual-time-budget=10000",  # let the scripts run and fetch before the DOM is dumped
    "--enable-logging=stderr",
    "--v=0",
]


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
        *VISIT_FLAGS,
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
