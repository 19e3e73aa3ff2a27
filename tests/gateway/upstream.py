"""The service nginx protects, as small as it can be: an asyncio HTTP/1.1 server on loopback,
in a thread of its own (the gateway tests are synchronous), that keeps every request's header
lines as they arrived (repeats included) and answers them back as JSON."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]  # names lower-cased, in order, repeats kept

    def values(self, name: str) -> list[str]:
        """Every value of one header: a forged copy next to the real one would show here."""
        return [value for key, value in self.headers if key == name.lower()]


class EchoUpstream:
    """Counts what reaches it: a refused token must leave `requests` as it was."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[SeenRequest] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(timeout=10)

    def stop(self) -> None:
        if not self._thread.is_alive():
            self._loop.close()
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):  # nginx may keep a connection open
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while (request := await _read(reader)) is not None:
                self.requests.append(request)
                body = json.dumps({"path": request.path, "headers": request.headers}).encode()
                head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                head += f"Content-Length: {len(body)}\r\n\r\n"
                writer.write(head.encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


async def _read(reader: asyncio.StreamReader) -> SeenRequest | None:
    """One request (nginx sends bodies with Content-Length); None once the peer closed."""
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))
    length = next((int(value) for name, value in headers if name == "content-length"), 0)
    await reader.readexactly(length)
    return SeenRequest(method, target, headers)
