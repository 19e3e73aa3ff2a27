"""One access line per request (method, route template, status, duration, request id; never a
path value or a query string), and an `X-Request-Id` echoed or made."""

from __future__ import annotations

import logging

import pytest
from quart.typing import TestClientProtocol as Client

from quart_template.cli import main


async def test_each_request_logs_one_line_without_tokens(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="quart_template.access"):
        response = await client.post("/verify/secret-token-value/c2VjcmV0?token=also-secret")
    lines = [r for r in caplog.records if r.name == "quart_template.access"]
    assert len(lines) == 1
    line = lines[0]
    assert (line.method, line.route, line.status) == ("POST", "/verify/<token>/<uidb64>", 400)
    assert line.duration_ms >= 0 and line.request_id == response.headers["X-Request-Id"]
    assert "secret" not in line.getMessage() and "secret" not in str(line.__dict__)


async def test_a_sane_request_id_is_echoed_and_an_odd_one_replaced(client: Client) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-Id": "lb-1234.abc"})
    assert echoed.headers["X-Request-Id"] == "lb-1234.abc"
    for odd in ("", "x" * 200, "a b", "<script>"):
        made = await client.get("/healthz", headers={"X-Request-Id": odd})
        assert made.headers["X-Request-Id"] != odd and len(made.headers["X-Request-Id"]) == 32
    unknown = await client.get("/no/such/path")
    assert unknown.status_code == 404 and unknown.headers["X-Request-Id"]


def test_the_command_line_says_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == "quart-template 0.1.0"
