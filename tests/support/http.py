"""Reading answers over HTTP: the JSON error shape, Retry-After, Authorization headers."""

from __future__ import annotations

from typing import Any


def auth(token: str, scheme: str = "Basic") -> dict[str, str]:
    """The Authorization header carrying an access token."""
    return {"Authorization": f"{scheme} {token}"}


async def json_error(response: Any, status: int) -> dict[str, Any]:
    """The response is the JSON error shape with this status, and asks for no browser prompt."""
    assert response.status_code == status, await response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = await response.get_json()
    assert body["success"] is False
    assert isinstance(body["message"], str) and body["message"]
    assert "WWW-Authenticate" not in response.headers
    return dict(body)


async def retry_after(response: Any) -> int:
    """The response is a JSON 429 whose Retry-After is a number of seconds, at most an hour."""
    await json_error(response, 429)
    value = int(response.headers["Retry-After"])
    assert 0 < value <= 3600
    return value
