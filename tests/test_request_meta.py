"""The client IP: the socket peer, unless a trusted proxy vouches through X-Forwarded-For."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from quart import Quart

from quart_template.app import create_app
from quart_template.request_meta import parse_ip, resolve_client_ip
from quart_template.settings import ConfigError, Settings
from quart_template.web import client_info

PROXIES = "10.0.0.0/8, 192.0.2.7, 2001:db8::/32"


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # nobody trusted: the header is ignored, whatever it says
        ("203.0.113.9", ["1.2.3.4"], "", "203.0.113.9"),
        # an untrusted peer cannot spoof its address
        ("203.0.113.9", ["1.2.3.4"], PROXIES, "203.0.113.9"),
        # a trusted proxy: the address it appended is the client
        ("10.0.0.5", ["198.51.100.20"], PROXIES, "198.51.100.20"),
        # the client's own (spoofed) entries left of the real one are ignored
        ("10.0.0.5", ["6.6.6.6, 198.51.100.20"], PROXIES, "198.51.100.20"),
        # several trusted hops are walked past, from the right
        ("10.0.0.5", ["6.6.6.6, 198.51.100.20, 192.0.2.7, 10.1.1.1"], PROXIES, "198.51.100.20"),
        # several header lines count as one list
        ("10.0.0.5", ["6.6.6.6, 198.51.100.20", "10.9.9.9"], PROXIES, "198.51.100.20"),
        # only trusted hops: the leftmost is as far as we can see
        ("10.0.0.5", ["10.2.2.2, 10.3.3.3"], PROXIES, "10.2.2.2"),
        # a trusted peer without the header is the client itself
        ("10.0.0.5", [], PROXIES, "10.0.0.5"),
        # ports and IPv6 brackets are stripped
        ("10.0.0.5", ["198.51.100.20:4711"], PROXIES, "198.51.100.20"),
        ("2001:db8::1", ["[2001:db9::5]:443"], PROXIES, "2001:db9::5"),
        # an IPv4-mapped IPv6 peer is matched as IPv4
        ("::ffff:10.0.0.5", ["198.51.100.20"], PROXIES, "198.51.100.20"),
        # garbage stops the walk at the last address a trusted hop vouched for
        ("10.0.0.5", ["198.51.100.20, not-an-ip, 10.4.4.4"], PROXIES, "10.4.4.4"),
        ("10.0.0.5", ["unknown"], PROXIES, "10.0.0.5"),
    ],
)
def test_resolve_client_ip(peer: str, forwarded: list[str], trusted: str, expected: str) -> None:
    assert resolve_client_ip(peer, forwarded, trusted) == expected


def test_no_peer_is_unknown() -> None:
    assert resolve_client_ip(None, ["1.2.3.4"], PROXIES) == "unknown"


def test_parse_ip_rejects_garbage() -> None:
    assert parse_ip("999.1.1.1") is None
    assert parse_ip("") is None
    assert str(parse_ip(" 1.2.3.4 ")) == "1.2.3.4"


async def _ip_app(settings: Settings) -> Quart:
    app = create_app(settings)

    @app.get("/_test/ip")
    async def show_ip() -> dict[str, str]:
        return {"ip": client_info().ip}

    return app


async def test_http_request_believes_only_trusted_proxies(
    make_settings: Callable[..., Settings],
) -> None:
    app = await _ip_app(make_settings(trusted_proxies="10.0.0.0/8"))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.20"}
        via_proxy = await client.get(
            "/_test/ip", headers=headers, scope_base={"client": ("10.0.0.5", 40000)}
        )
        direct = await client.get(
            "/_test/ip", headers=headers, scope_base={"client": ("203.0.113.9", 40000)}
        )
    assert (await via_proxy.get_json())["ip"] == "198.51.100.20"
    assert (await direct.get_json())["ip"] == "203.0.113.9"


async def test_by_default_the_header_is_ignored(settings: Settings) -> None:
    app = await _ip_app(settings)
    async with app.test_app() as test_app:
        response = await test_app.test_client().get(
            "/_test/ip",
            headers={"X-Forwarded-For": "198.51.100.20"},
            scope_base={"client": ("10.0.0.5", 40000)},
        )
    assert (await response.get_json())["ip"] == "10.0.0.5"


def test_bad_trusted_proxies_stop_start_up(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError) as error:
        make_settings(trusted_proxies="10.0.0.0/8, proxy.example").check()
    assert error.value.variable == "TRUSTED_PROXIES"
