"""Loopback ports for servers that are down, or about to start."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit, urlunsplit


def free_port() -> int:
    """A loopback port nobody listens on: a server there is down, or one may start there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def via_port(url: str, port: int) -> str:
    """The URL with the same credentials and path, pointed at `port` of the loopback (a
    proxy, or nobody)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    where = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{where}" if credentials else where))
