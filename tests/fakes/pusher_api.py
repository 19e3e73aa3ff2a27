"""A fake Pusher HTTP API on 127.0.0.1: checks each request's signature as Pusher does and
records the events it accepted."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class FakePusherAPI:
    app_id: str = "4242"
    key: str = "test-pusher-key"
    secret: str = "test-pusher-secret"
    fail_with: int | None = None  # answer every call with this status (a Pusher outage)
    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    calls: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_for(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least `count` events arrived."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.events) >= count), within
            )
        return self.events

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                method, target, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, value = line.decode().split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, answer = await self._answer(method, target, body)
                payload = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _answer(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        self.calls += 1
        if self.fail_with is not None:
            return self.fail_with, {"error": "outage"}
        url = urlsplit(target)
        query = dict(parse_qsl(url.query))
        if not self._signed(method, url.path, query, body):
            self.rejected.append(target)
            return 401, {"error": "bad signature"}
        if url.path != f"/apps/{self.app_id}/batch_events":
            return 404, {"error": "unknown path"}
        batch = json.loads(body)["batch"]
        async with self._arrived:
            for event in batch:
                self.events.append(
                    {
                        "channel": event["channel"],
                        "name": event["name"],
                        "data": json.loads(event["data"]),
                    }
                )
            self._arrived.notify_all()
        return 200, {}

    def _signed(self, method: str, path: str, query: dict[str, str], body: bytes) -> bool:
        signature = query.pop("auth_signature", "")
        if query.get("auth_key") != self.key:
            return False
        if query.get("body_md5") != hashlib.md5(body).hexdigest():
            return False
        string = "\n".join([method, path, "&".join(f"{k}={v}" for k, v in sorted(query.items()))])
        expected = hmac.new(self.secret.encode(), string.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature, expected)
