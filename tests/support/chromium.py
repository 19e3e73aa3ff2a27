"""Headless Chromium for the browser tests: where Debian's is (a skip without it, a failure
with REQUIRE_CHROMIUM=1), the flags that keep it to the loopback, and a small DevTools
protocol client (over `--remote-debugging-port`'s websocket) for driving one page."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import websockets

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
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
START_SECONDS = 60.0  # bounds, not expectations
CALL_SECONDS = 60.0


def find_chromium() -> str:
    """Debian's chromium; a skip without it, unless REQUIRE_CHROMIUM=1 (CI): then a failure."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("REQUIRE_CHROMIUM") == "1":
        pytest.fail("REQUIRE_CHROMIUM=1 but chromium is not installed (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium); REQUIRE_CHROMIUM=1 fails")


class Page:
    """One tab, driven over the DevTools protocol (a flat session on the browser's socket)."""

    def __init__(self, socket: Any, session_id: str) -> None:
        self._socket = socket
        self._session = session_id
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command to the page; its result (events on the way are skipped)."""
        return await _call(self._socket, self._ids, method, params, session=self._session)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (a promise is awaited)."""
        found = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in found:
            raise AssertionError(f"the page threw: {found['exceptionDetails']}")
        return found["result"].get("value")


@asynccontextmanager
async def chromium_page(workdir: Path) -> AsyncIterator[Page]:
    """A fresh headless Chromium (its own profile in `workdir`) and one blank tab in it."""
    profile = workdir / "profile"
    process = await asyncio.create_subprocess_exec(
        find_chromium(),
        *FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",  # Chromium picks one and writes it to DevToolsActivePort
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,  # its renderer and helpers go with it at the end
    )
    try:
        url = await _browser_url(profile / "DevToolsActivePort", process)
        async with websockets.connect(url, max_size=None) as socket:
            ids = itertools.count(1)
            target = await _call(socket, ids, "Target.createTarget", {"url": "about:blank"})
            attached = await _call(
                socket,
                ids,
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
            )
            yield Page(socket, attached["sessionId"])
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def _browser_url(active_port: Path, process: asyncio.subprocess.Process) -> str:
    async with asyncio.timeout(START_SECONDS):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"chromium exited {process.returncode} at start")
            lines = _lines(active_port)
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            await asyncio.sleep(0.05)  # poll interval while Chromium starts


def _lines(path: Path) -> list[str]:
    """The file's lines (a few bytes), none while it is not written yet."""
    return path.read_text().splitlines() if path.exists() else []


async def _call(
    socket: Any,
    ids: itertools.count[int],
    method: str,
    params: dict[str, Any],
    *,
    session: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"id": next(ids), "method": method, "params": params}
    if session is not None:
        message["sessionId"] = session
    await socket.send(json.dumps(message))
    async with asyncio.timeout(CALL_SECONDS):
        while True:
            answer = json.loads(await socket.recv())
            if answer.get("id") != message["id"] or answer.get("sessionId") != session:
                continue  # an event, or another session's answer
            if "error" in answer:
                raise AssertionError(f"{method}: {answer['error']}")
            result: dict[str, Any] = answer.get("result", {})
            return result
