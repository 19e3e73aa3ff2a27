"""A real gateway for the tests in this folder, started once per module: two app instances
(`quart-template serve`) on one database, an echoing upstream service, and nginx running the
shipped deploy/ template with one site per instance (gateway A → instance A, B → B, both
protecting the same upstream), so a test can say which instance answers.

Without nginx the tests skip, unless REQUIRE_NGINX=1 (CI sets it): then they fail."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.gateway.processes import AppServer, Nginx, find_nginx, render_site
from tests.gateway.upstream import EchoUpstream
from tests.support.backends import database_for_processes
from tests.support.network import free_port

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "gateway passphrase 0123"


def _redis_url() -> str | None:
    """TEST_REDIS_URL, else a Redis answering on 127.0.0.1:6379, else None."""
    if os.environ.get("TEST_REDIS_URL"):
        return os.environ["TEST_REDIS_URL"]
    try:
        with socket.create_connection(("127.0.0.1", 6379), 1):
            return LOCAL_REDIS_URL
    except OSError:
        return None


REDIS_URL = _redis_url()


@dataclass
class Gateway:
    """What the tests talk to: `a`/`b` are nginx's base URLs in front of instance A/B."""

    a: str
    b: str
    apps: tuple[AppServer, AppServer]
    upstream: EchoUpstream
    redis_url: str | None

    def sign_up_and_log_in(
        self, http: httpx.Client, base: str, *, headers: dict[str, str] | None = None
    ) -> tuple[str, str]:
        """A new person, through the API behind nginx: (email, access token)."""
        email = f"gw-{uuid.uuid4().hex[:12]}@example.com"
        body = {"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "Gate"}
        assert http.post(f"{base}/api/signup", json=body).status_code == 201
        credentials = {"email": email, "password": PASSWORD}
        login = http.post(f"{base}/api/login", json=credentials, headers=headers)
        assert login.status_code == 200, login.text
        return email, login.json()["user"]["access_token"]


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    """The nginx to run; a clear skip (or, with REQUIRE_NGINX=1, a failure) without one."""
    found = find_nginx()
    if found is None:
        if os.environ.get("REQUIRE_NGINX") == "1":
            pytest.fail("REQUIRE_NGINX=1 but nginx is not installed (apt-get install nginx)")
        pytest.skip(
            "nginx is not installed (apt-get install nginx); with REQUIRE_NGINX=1 this fails"
        )
    return found


@pytest.fixture(scope="module")
def gateway_database(tmp_path_factory: pytest.TempPathFactory, _mysql_schema: None) -> str:
    """One database for both instances."""
    return database_for_processes(tmp_path_factory.mktemp("gateway-db"))


def app_env(workdir: Path, database_url: str) -> dict[str, str]:
    """Test settings for `serve`, and nothing of the developer's environment."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "APP_ENV": "test",
        "SECRET_KEY": "gateway-test-secret-key-0123456789",
        "SECURITY_PASSWORD_SALT": "gateway-test-salt",
        "FRONTEND_URL": "http://frontend.test",
        "EMAIL_BACKEND": "console",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        # nginx connects from 127.0.0.1; the tests' clients come from 127.0.0.2.
        "TRUSTED_PROXIES": "127.0.0.1",
        # Every run signs up from the same address, and a shared Redis keeps the counts.
        "SIGNUP_LIMIT_PER_IP": "100000/hour",
    }
    if REDIS_URL:
        env["REDIS_URL"] = REDIS_URL
    return env


@pytest.fixture(scope="module")
def gateway(
    nginx_binary: str, gateway_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Everything started (in parallel where it can be), and everything stopped afterwards."""
    workdir = tmp_path_factory.mktemp("gateway")
    apps = tuple(
        AppServer(workdir / name, app_env(workdir / name, gateway_database)) for name in "ab"
    )
    upstream = EchoUpstream()
    ports = [free_port(), free_port()]
    nginx: Nginx | None = None
    try:
        for app in apps:
            app.start()
        upstream.start()
        sites = [
            render_site(
                QT_LISTEN=f"127.0.0.1:{port}", QT_APP=app.address, QT_SERVICE=upstream.address
            )
            for port, app in zip(ports, apps, strict=True)
        ]
        nginx = Nginx(nginx_binary, workdir / "nginx", sites)
        nginx.start(ports)
        for app in apps:
            app.wait_ready()
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        yield Gateway(a, b, (apps[0], apps[1]), upstream, REDIS_URL)
    finally:
        if nginx is not None:
            nginx.stop()
        for app in apps:
            app.stop()
        upstream.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A client that is not on nginx's address, so TRUSTED_PROXIES tells them apart."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport, timeout=10) as http:
        yield http
