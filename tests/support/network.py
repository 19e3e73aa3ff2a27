"""Loopback ports for servers that are down, or about to start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nobody listens on: a server there is down, or one may start there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
