"""Who is on the other end of the socket (believing X-Forwarded-For only from trusted proxies),
and `ClientInfo`, what services are told of the client.

A client can write anything into X-Forwarded-For; only the entries appended by our own proxies
are facts. So the header is read only when the socket peer is a trusted proxy, from the right,
skipping trusted hops: the first untrusted address is the client.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class ClientInfo:
    """The client of one request, built once by the HTTP layer (`web.client_info`)."""

    ip: str
    user_agent: str | None = None


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """TRUSTED_PROXIES (comma-separated IPs or CIDRs) as networks."""
    parts = [part.strip() for part in value.split(",") if part.strip()]
    return tuple(ipaddress.ip_network(part, strict=False) for part in parts)


def parse_ip(value: str) -> IPAddress | None:
    """An address from a header or socket entry ("1.2.3.4", "1.2.3.4:5678", "[::1]:80")."""
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def resolve_client_ip(peer: str | None, forwarded_for: list[str], trusted_proxies: str) -> str:
    """The client's address given the socket peer, the X-Forwarded-For values and the
    trusted proxies; pure, so the rules are easy to test."""
    peer_ip = parse_ip(peer) if peer else None
    trusted = parse_trusted_proxies(trusted_proxies)
    if peer_ip is None:
        return peer or "unknown"
    if not trusted or not _is_trusted(peer_ip, trusted):
        return str(peer_ip)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = peer_ip
    for hop in reversed(hops):
        address = parse_ip(hop)
        if address is None:
            break  # garbage only an untrusted writer could have put there: stop believing
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)
